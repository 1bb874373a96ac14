"""One decoder for every dialect: DX's ok/error envelope is an Envelope like the REST ones."""

from __future__ import annotations

import pytest

from dxapi import APIError, TransportError
from dxapi._dialect import DX_ENVELOPE, Envelope, decode_answer, decode_body
from dxapi._generated.specs import TEAMS_LIST
from dxapi.peers import SigmaClient

SIGMA_DELETE = SigmaClient.methods()["teams.delete"]


@pytest.mark.parametrize(
    "body",
    [b'{"ok": true, "teams": []}', b'{"teams": []}', b'{"ok": 0}', b'{"ok": "false"}'],
)
def test_dx_successes_read_whole(body: bytes) -> None:
    import json

    assert decode_answer(TEAMS_LIST, 200, body) == json.loads(body)


def test_dx_errors_keep_their_code_and_message() -> None:
    with pytest.raises(APIError) as err:
        decode_answer(TEAMS_LIST, 200, b'{"ok": false, "error": {"code": "nope", "message": "m"}}')
    assert err.value.error == "nope" and err.value.message == "m"
    with pytest.raises(APIError) as err:
        decode_body("x.y", DX_ENVELOPE, 404, b'{"ok": false, "error": "not_found"}')
    assert err.value.error == "not_found" and err.value.status == 404


def test_rest_success_statuses_allow_an_empty_body() -> None:
    assert decode_answer(SIGMA_DELETE, 204, b"") == {}
    assert decode_answer(SIGMA_DELETE, 200, b"{}") == {}
    with pytest.raises(TransportError, match="an empty body"):
        decode_answer(TEAMS_LIST, 204, b"")  # DX always answers JSON


def test_a_nested_error_path_and_a_missing_code() -> None:
    env = Envelope(code="error.code", message="error.detail")
    with pytest.raises(APIError) as err:
        decode_body("m", env, 409, b'{"error": {"code": "CONFLICT", "detail": "taken"}}')
    assert err.value.error == "CONFLICT" and err.value.message == "taken"
    assert err.value.details == {"error": {"code": "CONFLICT", "detail": "taken"}}  # kept whole
    with pytest.raises(APIError) as err:
        decode_body("m", Envelope(), 500, b'{"oops": 1}')
    assert err.value.error == "http_500" and err.value.details["oops"] == 1
