"""Pure encoding of arguments and decoding of answers."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from dxapi import APIError, ArgumentError, AuthError, NotFoundError, TransportError
from dxapi._generated.specs import METHODS
from dxapi._spec import ArgSpec, MethodSpec, check_args
from dxapi._wire import MAX_TARGET_BYTES, decode_json_body, encode_request, merge_headers

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
    when = dt.datetime(2024, 1, 1, 11, 22, 33, tzinfo=dt.timezone(dt.timedelta(hours=2)))
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
        "since": "2024-01-01T11:22:33+02:00",
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


def test_a_naive_datetime_never_reaches_the_wire() -> None:
    naive = dt.datetime(2024, 1, 1, 11, 22, 33)
    for name in ("since", "at"):  # ISO text and Unix seconds alike: no zone is guessed
        with pytest.raises(ArgumentError, match=f"'{name}' is a naive datetime"):
            check_args(SPEC, {name: naive})
        with pytest.raises(ArgumentError, match="naive"):
            encode_request(SPEC, {name: naive})  # even if check_args was skipped


def test_the_url_cap_is_exact_and_counts_percent_encoding() -> None:
    spec = MethodSpec("t.get", "GET", "web", args=(ArgSpec("q", "str"),))
    # "/t.get" + "q" + "=" + "&"-allowance: the cap counts each pair's name, value and 2 bytes
    room = MAX_TARGET_BYTES - len(spec.path) - len("q") - 2
    assert encode_request(spec, {"q": "v" * room}).query == (("q", "v" * room),)
    with pytest.raises(ArgumentError, match="argument 'q' makes the URL"):
        encode_request(spec, {"q": "v" * (room + 1)})
    with pytest.raises(ArgumentError, match="8000-byte cap"):
        encode_request(spec, {"q": " " * (room // 3 + 1)})  # a space is 3 bytes encoded


def test_extras_merge_after_declared_arguments_and_headers_replace_in_any_case() -> None:
    spec = METHODS["catalog.entities.delete"]  # identifier travels in the query of a POST
    prepared = encode_request(
        spec,
        {
            "identifier": "a",
            "extra_query": {"force": True, "ids": ["x", "y"]},
            "extra_body": {"note": "n"},
            "extra_headers": {"Accept": "text/plain", "X-A": "1"},
        },
    )
    assert prepared.query == (("identifier", "a"), ("force", "true"), ("ids", "x,y"))
    assert prepared.json == {"note": "n"}
    base = {"User-Agent": "dxapi/1", "accept": "application/json"}
    merged = merge_headers(base, prepared.headers)
    assert merged == {"User-Agent": "dxapi/1", "Accept": "text/plain", "X-A": "1"}
    assert merge_headers(base, ()) is base  # nothing to merge: no copy per request
    with pytest.raises(ArgumentError, match="comma"):  # "a,b" would arrive as two items
        encode_request(spec, {"identifier": "a", "extra_query": {"ids": ["a,b"]}})


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
