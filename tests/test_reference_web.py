"""Every DX Web API method of the reference catalog, replayed through the generated SDK.

For each method of ``dx-web-catalog.jsonl``:

- its name resolves to a generated method of ``dxapi.Client`` and is in ``Client.methods()``;
- with the reference's example arguments, the typed call sends the same verb, path, query and
  JSON body (aioresponses records what was sent);
- its example response structures into the typed result without losing a key the registry
  declares, and keys the SDK does not know are ignored.

Where the reference's example is not what a JSON client sends, the difference is stated
in ``EXAMPLE_NOTES`` and asserted as the equivalent the SDK sends instead.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

import dxapi
from dxapi import RetryPolicy
from dxapi._generated.specs import METHODS
from tests._reference import (
    call,
    known_method,
    load_jsonl,
    lost_keys,
    minimal_payload,
    multipart_fields,
    required_args,
    resolve,
    result_class,
    sent,
    typed_args,
    url_pattern,
    with_unknown_keys,
)

CATALOG = load_jsonl("dx-web-catalog.jsonl")
BY_NAME = {m["name"]: m for m in CATALOG}
WITH_REQUEST = sorted(n for n, m in BY_NAME.items() if m.get("example_request"))
WITH_RESPONSE = sorted(n for n, m in BY_NAME.items() if m.get("example_response") is not None)

#: Reference examples that record no arguments although the method requires some: the stored
#: page cut the body (or its curl sent none); only the verb and path can be compared.
BODY_NOT_RECORDED = {"scorecards.update", "users.update"}

#: Where the docs' curl differs from what a JSON client sends, and what the SDK sends instead.
EXAMPLE_NOTES = {
    # `curl -X GET -d id=...`: a form body on a GET. GETs carry their arguments in the query.
    "userGroups.get": "form → query",
    # `curl -d id=...`: a form body. The Web API takes JSON bodies for every write.
    "userGroups.delete": "form → json",
}


@pytest.fixture
async def dx(token: str) -> AsyncIterator[dxapi.Client]:
    async with dxapi.Client(token=token, retries=RetryPolicy(max_retries=0)) as client:
        yield client


def _mock(mocked: Any, spec: dxapi.MethodSpec, payload: Any = None) -> None:
    register = mocked.get if spec.http == "GET" else mocked.post
    if payload is None:
        payload = BY_NAME.get(spec.name, {}).get("example_response")
    if payload is None:
        payload = minimal_payload(result_class(spec))
    if spec.download:
        register(
            url_pattern(spec.name),
            body=b"PK\x03\x04 xlsx bytes",
            content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        )
    else:
        register(url_pattern(spec.name), payload=payload)


# ------------------------------------------------------------------ every name


@pytest.mark.parametrize("name", sorted(BY_NAME))
def test_reference_method_is_generated(name: str) -> None:
    client = dxapi.Client(token="t")
    assert name in dxapi.Client.methods(), f"{name} is missing from the registry"
    assert callable(resolve(client, name))
    spec = dxapi.Client.methods()[name]
    documented = {a["name"] for a in BY_NAME[name]["args"] if not a["name"].endswith("*")}
    assert documented <= {a.name for a in spec.args}, "a documented argument is missing"
    if BY_NAME[name]["http"]:
        assert spec.http == BY_NAME[name]["http"]
    if BY_NAME[name]["scope"] and " " not in BY_NAME[name]["scope"]:
        assert spec.scope is not None and BY_NAME[name]["scope"] in spec.scope.split()


def test_every_legacy_path_is_a_deprecated_alias() -> None:
    for name, entry in BY_NAME.items():
        legacy = entry.get("legacy_path")
        if not legacy:
            continue
        old = legacy.split()[-1].rsplit("/", 1)[-1]
        spec = known_method(old)
        assert spec.deprecated, old
        assert [a.name for a in spec.args] == [a.name for a in METHODS[name].args], old


# ------------------------------------------------------------------ requests


@pytest.mark.parametrize("name", WITH_REQUEST)
async def test_example_request_is_reproduced(name: str, mocked: Any, dx: dxapi.Client) -> None:
    spec = known_method(name)
    example = BY_NAME[name]["example_request"]
    args = typed_args(spec, example)
    if name in BODY_NOT_RECORDED:
        args = {**required_args(spec), **args}
    _mock(mocked, spec)
    expect = pytest.warns(DeprecationWarning, match="deprecated")
    with expect if spec.deprecated else contextlib.nullcontext():
        await call(dx, spec, args)
    [request] = sent(mocked)
    assert (request.verb, request.path) == (example["http"], f"/{name}")
    if name in BODY_NOT_RECORDED:
        return
    note = EXAMPLE_NOTES.get(name)
    query = example.get("query") or {}
    form = {k: v for k, v in (example.get("form") or {}).items()}
    if note == "form → query":
        query, form = {**query, **form}, {}
    if example.get("multipart"):
        fields = multipart_fields(request.data)
        assert set(fields) == set(form), fields
        filename, _value = fields[spec.upload or ""]
        assert filename  # a file part, with a name the server can show
        assert request.query == query
        return
    assert request.query == {k: str(v) for k, v in query.items()}
    body = example.get("json")
    if note == "form → json":
        body = {**(body or {}), **form}
    assert request.json == body


# ------------------------------------------------------------------ responses


@pytest.mark.parametrize("name", WITH_RESPONSE)
async def test_example_response_is_typed(name: str, mocked: Any, dx: dxapi.Client) -> None:
    spec = known_method(name)
    payload = BY_NAME[name]["example_response"]
    cls = result_class(spec)
    if spec.bare_array:
        _mock(mocked, spec, with_unknown_keys({spec.bare_array: payload}, cls)[spec.bare_array])
    else:
        _mock(mocked, spec, with_unknown_keys(payload, cls))
    result = await call(dx, spec, required_args(spec))
    if spec.bare_array:
        payload = {spec.bare_array: payload}
    assert isinstance(result, dict) or type(result).__name__.endswith("Result")
    assert list(lost_keys(payload, result)) == []


# ------------------------------------------------------ features the reference needs


async def test_datafeed_variables_spread_into_var_parameters(
    mocked: Any, dx: dxapi.Client
) -> None:
    mocked.get(url_pattern("queries.datafeed"), payload={"ok": True, "data": {"rows": []}})
    await dx.queries.datafeed(
        feed_token="abc", columns=["title", "repo"], variables={"repo_name": "branch", "n": "3"}
    )
    [request] = sent(mocked)
    assert request.query == {
        "feed_token": "abc",
        "columns": "title,repo",
        "var-repo_name": "branch",
        "var-n": "3",
    }


@pytest.mark.parametrize(
    "timestamp",
    [dt.datetime(2023, 4, 5, 19, 34, 47, tzinfo=dt.UTC), 1680723287, "1680723287"],
)
async def test_events_track_sends_unix_seconds_as_text(
    timestamp: Any, mocked: Any, dx: dxapi.Client
) -> None:
    mocked.post(url_pattern("events.track"), payload={"ok": True})
    await dx.events.track(name="e", email="a@example.com", timestamp=timestamp)
    [request] = sent(mocked)
    assert request.json == {"name": "e", "email": "a@example.com", "timestamp": "1680723287"}


async def test_team_hierarchy_bare_array_is_typed(mocked: Any, dx: dxapi.Client) -> None:
    mocked.get(
        url_pattern("orgfiles.teamHierarchy.get"),
        payload=[{"name": "A", "reference_id": None, "members": ["x@example.com"]}],
    )
    result = await dx.orgfiles.team_hierarchy.get()
    assert [t.name for t in result.teams] == ["A"]
    assert result.teams[0].members == ["x@example.com"]


async def test_team_hierarchy_error_object_is_still_an_error(
    mocked: Any, dx: dxapi.Client
) -> None:
    mocked.get(
        url_pattern("orgfiles.teamHierarchy.get"),
        status=401,
        payload={"ok": False, "error": "not_authed"},
    )
    with pytest.raises(dxapi.AuthError):
        await dx.orgfiles.team_hierarchy.get()


async def test_page_number_pagination_of_user_groups(mocked: Any, dx: dxapi.Client) -> None:
    for page in (1, 2):
        mocked.get(
            url_pattern("userGroups.list"),
            payload={
                "ok": True,
                "groups": [{"id": f"g{page}"}],
                "pagination": {"current_page": page, "total_pages": 2},
            },
        )
    ids = [g.id async for g in dx.user_groups.list(limit=1)]
    assert ids == ["g1", "g2"]
    assert [r.query for r in sent(mocked)] == [{"limit": "1"}, {"limit": "1", "page": "2"}]


async def test_next_page_pagination_of_users(mocked: Any, dx: dxapi.Client) -> None:
    for nxt in (2, None):
        mocked.get(
            url_pattern("users.list"),
            payload={"ok": True, "users": [{"id": f"u{nxt}"}], "next_page": nxt},
        )
    ids = [u.id async for u in dx.users.list(page_size=1)]
    assert ids == ["u2", "uNone"]
    assert [r.query for r in sent(mocked)] == [{"page_size": "1"}, {"page_size": "1", "page": "2"}]


async def test_callable_namespace_and_its_child(mocked: Any, dx: dxapi.Client) -> None:
    mocked.get(url_pattern("snapshots.dxiScores"), payload={"ok": True, "score": 71})
    mocked.get(url_pattern("snapshots.dxiScores.breakdown"), payload={"ok": True, "rows": []})
    assert await dx.snapshots.dxi_scores(snapshot_id="s", team_ids=["a", "b"]) == {
        "ok": True,
        "score": 71,
    }
    await dx.snapshots.dxi_scores.breakdown(snapshot_id="s", dimension_type="group")
    assert [(r.path, r.query) for r in sent(mocked)] == [
        ("/snapshots.dxiScores", {"snapshot_id": "s", "team_ids": "a,b"}),
        ("/snapshots.dxiScores.breakdown", {"snapshot_id": "s", "dimension_type": "group"}),
    ]


async def test_legacy_alias_warns_once_and_calls_its_own_path(
    mocked: Any, dx: dxapi.Client
) -> None:
    for _ in range(2):
        mocked.get(url_pattern("teams.get"), payload={"ok": True, "team": {"id": "t"}})
    with pytest.warns(DeprecationWarning, match="teams.info"):
        team = await dx.teams.get(team_id="t")
    assert team.team.id == "t"
    [request] = sent(mocked)
    assert request.path == "/teams.get"


# ---------------------------------------------------------------- file transfer


@pytest.mark.parametrize("kind", ["path", "str", "bytes", "file"])
async def test_orgfiles_upload_accepts_paths_bytes_and_files(
    kind: str, tmp_path: Path, mocked: Any, dx: dxapi.Client
) -> None:
    data = b"name,email\nAda,ada@example.com\n"
    path = tmp_path / "people.csv"
    path.write_bytes(data)
    source: Any = {"path": path, "str": str(path), "bytes": data, "file": io.BytesIO(data)}[kind]
    mocked.post(url_pattern("orgfiles.upload"), payload={"ok": True})
    await dx.orgfiles.upload(file=source, upload_type="user")
    [request] = sent(mocked)
    assert request.json is None
    fields = multipart_fields(request.data)
    filename, value = fields["file"]
    assert filename == ("people.csv" if kind in ("path", "str") else "upload.csv")
    assert fields["upload_type"][1] == "user"
    if kind in ("path", "str"):  # streamed: read chunk by chunk when the body is written
        assert not isinstance(value, bytes | bytearray)
        assert b"".join([chunk async for chunk in value]) == data
    elif kind == "bytes":
        assert value == data
    else:  # the file object, or its bytes read once so a retry can resend them (≤ 10 MB)
        assert (value if isinstance(value, bytes) else value.getvalue()) == data


async def test_orgfiles_upload_is_not_retried_once_sent(mocked: Any, token: str) -> None:
    assert not METHODS["orgfiles.upload"].idempotent
    mocked.post(url_pattern("orgfiles.upload"), status=503, payload={"ok": False})
    async with dxapi.Client(token=token, retries=RetryPolicy(backoff=0.001)) as dx:
        with pytest.raises(dxapi.APIError):
            await dx.orgfiles.upload(file=b"a,b\n")
    assert len(sent(mocked)) == 1


async def test_snapshot_file_is_streamed(mocked: Any, dx: dxapi.Client) -> None:
    body = b"PK\x03\x04" + bytes(range(256)) * 1000
    mocked.get(
        url_pattern("snapshots.getFile"),
        body=body,
        content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    )
    chunks = [c async for c in dx.snapshots.get_file(snapshot_id="s1")]
    assert b"".join(chunks) == body
    [request] = sent(mocked)
    assert request.query == {"snapshot_id": "s1"}


async def test_snapshot_file_redirect_drops_the_token(
    mocked: Any, dx: dxapi.Client, token: str
) -> None:
    mocked.get(
        url_pattern("snapshots.getFile"),
        status=302,
        headers={"Location": "https://files.example.com/s1.xlsx"},
    )
    mocked.get("https://files.example.com/s1.xlsx", body=b"xlsx")
    assert b"".join([c async for c in dx.snapshots.get_file(snapshot_id="s1")]) == b"xlsx"
    first, second = sorted(sent(mocked), key=lambda r: r.path != "/snapshots.getFile")
    assert first.headers.get("Authorization") == f"Bearer {token}"
    assert "Authorization" not in second.headers


async def test_snapshot_file_json_error_is_an_api_error(mocked: Any, dx: dxapi.Client) -> None:
    mocked.get(
        url_pattern("snapshots.getFile"),
        status=404,
        payload={"ok": False, "error": "snapshot_not_found"},
    )
    with pytest.raises(dxapi.NotFoundError):
        [c async for c in dx.snapshots.get_file(snapshot_id="nope")]
