"""The prepare step: checked arguments become the transport's request, nothing is sent."""

from __future__ import annotations

import pytest

import dxapi
from dxapi._config import Limits, Timeout
from dxapi._generated.specs import METHODS
from dxapi._prepare import check, client_headers, link, prepare
from dxapi._version import __version__

INFO = METHODS["catalog.entities.info"]
UPSERT = METHODS["repoGroups.upsert"]


def test_client_headers_say_who_is_calling_and_carry_the_token() -> None:
    call, download = client_headers("secret")
    assert call["Authorization"] == download["Authorization"] == "Bearer secret"
    assert call["X-Client-Type"] == "dxapi" and call["X-Client-Version"] == __version__
    assert call["Accept"] == "application/json" and download["Accept"] == "*/*"


def test_prepare_builds_the_request_with_extra_headers_over_the_clients() -> None:
    headers, _ = client_headers("secret")
    spec, given = check(INFO, {"identifier": "svc", "extra_headers": {"X-Trace": "t1"}})
    request, key = prepare(spec, given, "json", "https://api.test", headers, Timeout(), Limits())
    assert request.url == "https://api.test/catalog.entities.info"
    assert request.query == (("identifier", "svc"),)
    assert request.headers["X-Trace"] == "t1"
    assert request.headers["Authorization"] == "Bearer secret"
    assert key == ""


def test_an_idempotency_key_makes_the_call_safe_to_repeat() -> None:
    assert not UPSERT.idempotent
    spec, _ = check(UPSERT, {"name": "g", "reference_id": "rg-1"})
    assert spec.idempotent


def test_arguments_that_cannot_be_sent_are_refused_here() -> None:
    with pytest.raises(dxapi.ArgumentError) as caught:
        check(INFO, {"identifer": "svc"})
    assert "identifer" in str(caught.value) and "identifier" in str(caught.value)


def test_a_link_is_fetched_without_credentials() -> None:
    request = link(INFO, "https://files.test/x?sig=1", Timeout(), Limits())
    assert request.presigned
    assert "Authorization" not in request.headers
