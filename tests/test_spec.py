"""Argument checks happen before any request and report every problem at once."""

from __future__ import annotations

import datetime as dt

import pytest

from dxapi import UNSET, ArgumentError
from dxapi._generated.specs import METHODS
from dxapi._spec import check_args


def test_every_problem_is_reported_together() -> None:
    spec = METHODS["catalog.entities.create"]
    with pytest.raises(ArgumentError) as info:
        check_args(spec, {"identifer": "x", "name": 3, "owner_team_ids": "t1"})
    err = info.value
    assert err.method == "catalog.entities.create"
    assert isinstance(err, TypeError)
    assert sorted(err.problems) == sorted(
        [
            "unknown argument 'identifer'",
            "missing required argument 'identifier'",
            "missing required argument 'type'",
            "argument 'name' must be str, got int",
            "argument 'owner_team_ids' must be list[str], got str",
        ]
    )


def test_unset_is_left_out_and_none_is_refused() -> None:
    spec = METHODS["catalog.entities.list"]
    assert check_args(spec, {"limit": 5, "cursor": UNSET}) == {"limit": 5}
    with pytest.raises(ArgumentError, match="'cursor' is None"):
        check_args(spec, {"cursor": None})


def test_enums_and_types() -> None:
    spec = METHODS["catalog.relationEdges.list"]
    ok = {"entity_identifier": "e", "relation_identifier": "r"}
    assert check_args(spec, {**ok, "direction": "incoming"})["direction"] == "incoming"
    with pytest.raises(ArgumentError, match="must be one of"):
        check_args(spec, {**ok, "direction": "sideways"})
    with pytest.raises(ArgumentError, match="'limit' must be int, got bool"):
        check_args(spec, {**ok, "limit": True})


def test_datetime_arguments_accept_datetimes_and_wire_text() -> None:
    from dxapi._spec import ArgSpec, MethodSpec

    spec = MethodSpec("x.y", "POST", "web", args=(ArgSpec("at", "datetime"),))
    assert check_args(spec, {"at": dt.datetime(2024, 1, 1, tzinfo=dt.UTC)})
    with pytest.raises(ArgumentError, match="naive datetime"):
        check_args(spec, {"at": dt.datetime(2024, 1, 1)})  # no zone: dxapi does not guess
    assert check_args(spec, {"at": "2024-01-01T00:00:00"})
    with pytest.raises(ArgumentError):
        check_args(spec, {"at": 1700000000})  # an iso-format argument takes no unix number
