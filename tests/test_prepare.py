"""The prepare step: checked arguments become the transport's request, nothing is sent."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import dxapi
from dxapi import _prepare
from dxapi._config import Limits, Timeout
from dxapi._errors import ArgumentError
from dxapi._generated.specs import METHODS
from dxapi._prepare import check, client_headers, link, plain, prepare
from dxapi._spec import UNSET, MethodSpec
from dxapi._version import __version__
from dxapi._wire import Encoding

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


# ------------------------------------------------------------------- the plain lane

_PLAIN_SPECS = sorted(METHODS.values(), key=lambda s: s.name)


def _value() -> st.SearchStrategy[Any]:
    """What callers pass: mostly plain values, and each kind the plain lane hands over."""
    return st.one_of(
        st.sampled_from(["", "svc", "a,b", "x" * 700, "\u00e9t\u00e9", "\ud800", "1", "true"]),
        st.text(max_size=8),
        st.integers(-3, 10**20),
        st.booleans(),
        st.none(),
        st.just(UNSET),
        st.floats(allow_nan=True),
        st.lists(st.sampled_from(["a", "b,c", 1]), max_size=3),
        st.datetimes(timezones=st.just(dt.UTC)),
        st.dictionaries(
            st.sampled_from(["k", "X-Trace"]), st.sampled_from(["v", "w"]), max_size=2
        ),
    )


_TYPED: dict[str, st.SearchStrategy[Any]] = {
    "str": st.text(st.characters(max_codepoint=127), max_size=6),
    "int": st.integers(-5, 10**6),
    "float": st.integers(-5, 5) | st.floats(-1, 1),
    "bool": st.booleans(),
    "datetime": st.sampled_from(["2025-01-01T00:00:00Z", "1735689600"]),
    "date": st.just("2025-01-01"),
}


@st.composite
def _calls(draw: st.DrawFn) -> tuple[MethodSpec, dict[str, Any], Encoding]:
    spec = draw(st.sampled_from(_PLAIN_SPECS))
    names = [a.name for a in spec.args]
    for arg in spec.args:  # the enum's own values, as callers pass them
        names += [arg.name] * len(arg.enum)
    chosen = draw(
        st.lists(st.sampled_from([*names, "unknown", "extra_query", "extra_headers"]), max_size=6)
    )
    args: dict[str, Any] = {}
    for name in chosen:
        arg = spec.arg(name)
        if arg is not None and arg.enum and draw(st.booleans()):
            args[name] = draw(st.sampled_from(arg.enum))
        elif arg is not None and isinstance(arg.type, str) and draw(st.booleans()):
            args[name] = draw(_TYPED.get(arg.type, _value()))  # of its own type
        else:
            args[name] = draw(_value())
    if draw(st.booleans()):  # most calls give what is required
        for arg in spec.args:
            if arg.required and arg.name not in args:
                args[arg.name] = draw(st.sampled_from(["svc", 7, True]))
    return spec, args, draw(st.sampled_from(["json", "form"]))


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_calls())
def test_the_plain_lane_makes_what_the_full_rules_make_or_hands_over(
    call: tuple[MethodSpec, dict[str, Any], Encoding],
) -> None:
    spec, args, encoding = call
    headers, _ = client_headers("secret")
    where = ("https://api.test", headers, Timeout(), Limits())
    quick = plain(spec, args, encoding, *where)
    warned = set(_prepare._warned)  # a deprecation warns once per process: not used up here
    try:
        spec2, given = check(spec, args)
        full: tuple[Any, ...] | None = prepare(spec2, given, encoding, *where)
        assert spec2 == spec or quick is None  # an idempotency key: the full rules only
    except ArgumentError:
        full = None
    finally:
        _prepare._warned.intersection_update(warned)
    if quick is not None:  # never a request the full rules would refuse or make otherwise
        assert full is not None
        assert quick == full
        assert quick[0].headers is headers  # the client's own object: the transport caches it


def test_the_plain_lane_takes_the_common_calls() -> None:
    headers, _ = client_headers("secret")
    where = ("https://api.test", headers, Timeout(), Limits())
    info = plain(INFO, {"identifier": "svc"}, "json", *where)
    assert info is not None and info[0].query == (("identifier", "svc"),)
    listing = plain(
        METHODS["catalog.entities.list"], {"limit": 100, "type": "service"}, "json", *where
    )
    assert listing is not None and listing[0].query == (("limit", "100"), ("type", "service"))
    # booleans and numbers travel as the full rules write them, in the query and in a form
    for spec, args in [
        (METHODS["initiatives.list"], {"published": True, "limit": 5}),
        (METHODS["scorecards.list"], {"include_unpublished": False}),
    ]:
        for encoding in ("json", "form"):
            got = plain(spec, args, encoding, *where)
            assert got is not None and got == prepare(*check(spec, args), encoding, *where)
    # what it hands over: an escape hatch, a missing argument, a value it does not know
    assert plain(INFO, {"identifier": "svc", "extra_query": {"a": "b"}}, "json", *where) is None
    assert plain(INFO, {}, "json", *where) is None
    assert plain(INFO, {"identifier": "s\u00e9"}, "json", *where) is None
    assert plain(UPSERT, {"name": "g", "reference_id": "rg-1"}, "json", *where) is None
