"""Pure encoding of arguments and decoding of answers."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from dxapi import APIError, AuthError, NotFoundError, TransportError
from dxapi._generated.specs import METHODS
from dxapi._spec import ArgSpec, MethodSpec
from dxapi._wire import decode_json_body, encode_request

SPEC = MethodSpec(
    name="things.list",
    http="GET",
    api="web",
    args=(
        ArgSpec("ids", ("list", "str")),
        ArgSpec("flag", "bool"),
        ArgSpec("since", "datetime"),
        ArgSpec("at", "datetime", format="unix"),
        ArgSpec("day", "date"),
        ArgSpec("filter", ("map", "json")),
    ),
)


def test_get_arguments_become_query_text() -> None:
    when = dt.datetime(2024, 1, 1, 11, 22, 33)
    prepared = encode_request(
        SPEC,
        {
            "ids": ["a", "b"],
            "flag": True,
            "since": when,
            "at": dt.datetime(2024, 1, 1, tzinfo=dt.UTC),
            "day": dt.date(2024, 2, 3),
            "filter": {"k": [1]},
        },
    )
    assert prepared.method == "GET" and prepared.path == "/things.list"
    assert dict(prepared.query) == {
        "ids": "a,b",
        "flag": "true",
        "since": "2024-01-01T11:22:33",
        "at": "1704067200",
        "day": "2024-02-03",
        "filter": '{"k":[1]}',
    }
    assert prepared.json is None


def test_post_arguments_become_json_keeping_types() -> None:
    spec = METHODS["catalog.entities.create"]
    prepared = encode_request(
        spec, {"identifier": "x", "type": "service", "owner_team_ids": ("t1",)}
    )
    assert prepared.method == "POST" and prepared.query == ()
    assert prepared.json == {"identifier": "x", "type": "service", "owner_team_ids": ["t1"]}


def test_query_located_post_arguments_and_form_encoding() -> None:
    prepared = encode_request(METHODS["catalog.entities.delete"], {"identifier": "dx-site"})
    assert prepared.query == (("identifier", "dx-site"),)
    assert prepared.json is None and prepared.form is None
    spec = METHODS["catalog.relationEdges.bulkUpsert"]
    form = encode_request(spec, {"relation_identifier": "r", "edges": {"a": ["b"]}}, "form")
    assert form.form == (("relation_identifier", "r"), ("edges", '{"a":["b"]}'))


def test_success_payload() -> None:
    assert decode_json_body("m.x", 200, b'{"ok": true, "n": 1}') == {"ok": True, "n": 1}
    assert decode_json_body("m.x", 202, b'{"ok": true}') == {"ok": True}


@pytest.mark.parametrize(
    ("status", "body", "cls", "code"),
    [
        (200, {"ok": False, "error": "not_authed"}, AuthError, "not_authed"),
        (401, {"ok": False, "error": "invalid_auth"}, AuthError, "invalid_auth"),
        (404, {"ok": False, "error": "not_found"}, NotFoundError, "not_found"),
        (422, {"ok": False, "error": "entity_not_found"}, NotFoundError, "entity_not_found"),
        (409, {"ok": False, "error": "conflict"}, APIError, "conflict"),
        (400, {"ok": False}, APIError, "http_400"),
    ],
)
def test_error_answers_map_to_typed_errors(
    status: int, body: dict[str, object], cls: type[APIError], code: str
) -> None:
    with pytest.raises(cls) as info:
        decode_json_body("teams.info", status, json.dumps(body).encode())
    err = info.value
    assert (err.error, err.status, err.method) == (code, status, "teams.info")
    assert type(err) is cls


def test_error_details_message_is_kept() -> None:
    body = {"ok": False, "error": "invalid_payload", "error_details": {"message": "bad name"}}
    with pytest.raises(APIError, match="bad name") as info:
        decode_json_body("scorecards.create", 422, json.dumps(body).encode())
    assert info.value.details["error_details"] == {"message": "bad name"}


@pytest.mark.parametrize("body", [b"<html>502 Bad Gateway</html>", b"", b'{"ok": tru', b"[1]"])
def test_bodies_that_are_not_a_json_object_are_transport_errors(body: bytes) -> None:
    with pytest.raises(TransportError) as info:
        decode_json_body("teams.list", 502, body)
    assert info.value.status == 502
    assert "HTTP 502" in str(info.value)
