"""dxapi.scopes: the least set of token scopes a set of methods needs."""

from __future__ import annotations

import pytest

import dxapi
from dxapi import scopes


def test_methods_and_their_scopes() -> None:
    assert scopes.required(["catalog.entities.list", "teams.info"]) == {
        "catalog:read",
        "snapshots:read",
    }
    assert scopes.required("scorecards.delete") == {"scorecards:write"}


def test_a_namespace_prefix_covers_every_method_under_it() -> None:
    catalog = scopes.required(["catalog"])
    assert catalog == {"catalog:read", "catalog:write:entities"}
    assert scopes.required(["snapshots.settings"]) == {"snapshots:admin"}
    # snapshots.dxiScores is a method and a namespace: both it and its breakdown
    assert set(scopes.by_method(["snapshots.dxiScores"])) == {
        "snapshots.dxiScores",
        "snapshots.dxiScores.breakdown",
    }


def test_a_method_needing_two_scopes_needs_both() -> None:
    assert scopes.required(["snapshots.getFile"]) == {"snapshots:admin", "snapshots:read"}
    assert scopes.by_method("snapshots.getFile") == {
        "snapshots.getFile": ("snapshots:admin", "snapshots:read")
    }


def test_undocumented_scopes_are_listed_not_guessed() -> None:
    assert scopes.required(["auth.whoami", "events.track"]) == set()
    assert scopes.undocumented(["auth", "events.track", "teams.list"]) == [
        "auth.info",
        "auth.whoami",
        "events.track",
    ]


def test_unknown_names_are_all_reported() -> None:
    with pytest.raises(ValueError, match=r"'nope\.list', 'catalo'"):
        scopes.required(["nope.list", "teams.list", "catalo"])


def test_api_filter() -> None:
    assert scopes.required(["teams"], api="web") == {"snapshots:read"}
    with pytest.raises(ValueError, match="of the datacloud API"):
        scopes.required(["teams"], api="datacloud")


def test_exported_from_the_package() -> None:
    assert dxapi.scopes is scopes
    assert "scopes" in dxapi.__all__
