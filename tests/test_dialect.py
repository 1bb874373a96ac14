"""An API's dialect as data: auth, path templates, envelopes and rate-limit headers (pure)."""

from __future__ import annotations

import json

import pytest

import dxapi
from dxapi._dialect import (
    API_KEY,
    BEARER,
    DX_ENVELOPE,
    Dialect,
    Envelope,
    RateHeaders,
    auth_headers,
    decode_body,
    encode_path,
    rate_limit_pause,
)
from dxapi._spec import ArgSpec, MethodSpec

REST = Envelope(data="data", status="status", success=("success",), code="error.code")
DIALECT = Dialect(
    "demo",
    "https://demo.test/api",
    auth=(API_KEY, BEARER),
    envelope=REST,
    rate_headers=RateHeaders("X-RateLimit-Remaining", "X-RateLimit-Reset"),
)
TEAM = MethodSpec(
    "teams.get",
    "GET",
    "demo",
    args=(ArgSpec("teamId", "str", required=True, location="path"),),
    path_template="/v2/teams/{teamId}",
    dialect=DIALECT,
)


def test_the_token_travels_as_the_scheme_says() -> None:
    assert auth_headers(BEARER, "t") == {"Authorization": "Bearer t"}
    assert auth_headers(API_KEY, "t") == {"X-API-Key": "t"}


def test_a_path_argument_is_one_quoted_segment() -> None:
    assert encode_path(TEAM, {"teamId": "a/b c"}) == "/v2/teams/a%2Fb%20c"
    for bad in ("", ".", ".."):
        with pytest.raises(ValueError, match="teamId"):
            encode_path(TEAM, {"teamId": bad})


def test_a_rest_envelope_gives_its_data_and_its_errors() -> None:
    ok = json.dumps({"status": "success", "data": {"id": "t1"}}).encode()
    assert decode_body("teams.get", REST, 200, ok) == {"id": "t1"}
    failed = json.dumps({"status": "failed", "error": {"code": "no_team"}}).encode()
    with pytest.raises(dxapi.APIError) as caught:
        decode_body("teams.get", REST, 200, failed)
    assert caught.value.error == "no_team"


def test_dx_ok_false_is_an_error_and_an_empty_204_is_empty() -> None:
    body = json.dumps({"ok": False, "error": "not_found"}).encode()
    with pytest.raises(dxapi.NotFoundError):
        decode_body("teams.info", DX_ENVELOPE, 200, body)
    assert decode_body("teams.delete", REST, 204, b"", success=(204,)) == {}


def test_remaining_zero_means_pause_until_the_reset() -> None:
    now = 1_000_000.0
    spent = {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(now + 2)}
    assert rate_limit_pause(TEAM, spent, now) == pytest.approx(2.0)
    assert rate_limit_pause(TEAM, {**spent, "X-RateLimit-Remaining": "3"}, now) is None
    assert rate_limit_pause(TEAM, {**spent, "X-RateLimit-Reset": "soon"}, now) is None
    far = {**spent, "X-RateLimit-Reset": str(now + 10**6)}
    assert rate_limit_pause(TEAM, far, now) == 3600.0  # a server's mistake is capped
    dx = MethodSpec("teams.info", "GET", "web")
    assert rate_limit_pause(dx, spent, now) is None  # DX declares no such headers
