"""Bad input fails with an ArgumentError naming the method and the argument, before any request."""

from __future__ import annotations

import datetime as dt
import io
import pathlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

import dxapi
from dxapi import ArgumentError, Client
from dxapi._generated.shapes import ServiceRef
from dxapi._upload import MAX_UPLOAD_BYTES
from dxapi.testing import FakeDX

Call = Callable[[Client], Awaitable[Any]]


@pytest.fixture
async def fake() -> AsyncIterator[FakeDX]:
    async with FakeDX(entities=3) as fake:
        yield fake


async def first_page(call: Any) -> Any:
    async for page in call.raw_pages():
        return page
    return None


BIG = b"x" * (MAX_UPLOAD_BYTES + 1)
NAN = float("nan")
INF = float("inf")

CASES: list[tuple[str, Call, str, list[str]]] = [
    # (id, the call, method named in the error, words the error must contain)
    (
        "wrong-type",
        lambda dx: dx.call("catalog.entities.info", identifier=123),
        "catalog.entities.info",
        ["'identifier'", "must be str", "got int"],
    ),
    (
        "wrong-type-typed",
        lambda dx: dx.catalog.entities.info(identifier=["a"]),  # type: ignore[arg-type]
        "catalog.entities.info",
        ["'identifier'", "list"],
    ),
    (
        "unknown-argument",
        lambda dx: dx.call("catalog.entities.info", identifier="a", identifer="b"),
        "catalog.entities.info",
        ["unknown argument 'identifer'"],
    ),
    (
        "missing-required",
        lambda dx: dx.call("catalog.entities.create", identifier="a"),
        "catalog.entities.create",
        ["missing required argument 'type'"],
    ),
    (
        "every-problem-at-once",
        lambda dx: dx.call("catalog.entities.create", name=5, color="red"),
        "catalog.entities.create",
        ["'identifier'", "'type'", "'name'", "'color'"],
    ),
    (
        "none-value",
        lambda dx: dx.call("catalog.entities.info", identifier=None),
        "catalog.entities.info",
        ["'identifier'", "None"],
    ),
    (
        "list-of-wrong-items",
        lambda dx: dx.call(
            "catalog.entities.upsert", identifier="a", type="service", owner_team_ids=[1, 2]
        ),
        "catalog.entities.upsert",
        ["'owner_team_ids'", "list[str]"],
    ),
    (
        "bool-is-not-int",
        lambda dx: dx.call("catalog.entities.list", limit=True),
        "catalog.entities.list",
        ["'limit'", "must be int", "bool"],
    ),
    (
        "invalid-cursor-type",
        lambda dx: dx.call("catalog.entities.list", cursor=42),
        "catalog.entities.list",
        ["'cursor'", "must be str"],
    ),
    (
        "invalid-cursor-paginate",
        lambda dx: first_page(dx.paginate("catalog.entities.list", cursor={"page": 2})),
        "catalog.entities.list",
        ["'cursor'"],
    ),
    (
        "invalid-cursor-typed-iteration",
        lambda dx: first_page(dx.catalog.entities.list(cursor=b"abc")),  # type: ignore[arg-type]
        "catalog.entities.list",
        ["'cursor'"],
    ),
    (
        "enum",
        lambda dx: dx.call("orgfiles.upload", file=b"a,b\n", upload_type="teams"),
        "orgfiles.upload",
        ["'upload_type'", "one of"],
    ),
    (
        "upload-too-big-bytes",
        lambda dx: dx.call("orgfiles.upload", file=BIG),
        "orgfiles.upload",
        ["'file'", str(MAX_UPLOAD_BYTES + 1), "10 MB"],
    ),
    (
        "upload-too-big-file-object",
        lambda dx: dx.call("orgfiles.upload", file=io.BytesIO(BIG)),
        "orgfiles.upload",
        ["'file'", "10 MB"],
    ),
    (
        "upload-missing-path",
        lambda dx: dx.call("orgfiles.upload", file="/nonexistent/people.csv"),
        "orgfiles.upload",
        ["'file'", "/nonexistent/people.csv"],
    ),
    (
        "upload-directory",
        lambda dx: dx.call("orgfiles.upload", file=pathlib.Path("/")),
        "orgfiles.upload",
        ["'file'", "not a regular file"],
    ),
    (
        "upload-wrong-type",
        lambda dx: dx.call("orgfiles.upload", file=12345),
        "orgfiles.upload",
        ["'file'"],
    ),
    (
        "json-argument-not-serializable",
        lambda dx: dx.call(
            "catalog.entities.upsert", identifier="a", type="service", properties={"x": {1, 2}}
        ),
        "catalog.entities.upsert",
        ["'properties'", "JSON", "set"],
    ),
    (
        "json-argument-nan",
        lambda dx: dx.call(
            "catalog.entities.upsert", identifier="a", type="service", properties={"x": NAN}
        ),
        "catalog.entities.upsert",
        ["'properties'", "JSON"],
    ),
    # ------------------------------------------- input that cannot travel exactly as given
    (
        "lone-surrogate-in-query",  # once silently dropped "payments" from the query string
        lambda dx: dx.call("catalog.entities.info", identifier="pay\udcffments"),
        "catalog.entities.info",
        ["'identifier'", "lone surrogate", "'\\udcff'", "index 3"],
    ),
    (
        "lone-surrogate-typed",
        lambda dx: dx.catalog.entities.info(identifier="pay\udcffments"),
        "catalog.entities.info",
        ["'identifier'", "lone surrogate"],
    ),
    (
        "lone-surrogate-in-list-item",
        lambda dx: dx.call(
            "catalog.entities.upsert", identifier="a", type="s", owner_team_ids=["t", "\ud800"]
        ),
        "catalog.entities.upsert",
        ["'owner_team_ids'[1]", "lone surrogate"],
    ),
    (
        "lone-surrogate-in-map-key",
        lambda dx: dx.call(
            "catalog.entities.upsert", identifier="a", type="s", properties={"k\udc80": 1}
        ),
        "catalog.entities.upsert",
        ["'properties' key", "lone surrogate"],
    ),
    (
        "lone-surrogate-deep-in-json",
        lambda dx: dx.call(
            "catalog.entities.upsert",
            identifier="a",
            type="s",
            properties={"x": {"y": ["ok", "\udfff"]}},
        ),
        "catalog.entities.upsert",
        ["'properties'['x']['y'][1]", "lone surrogate"],
    ),
    (
        "lone-surrogate-in-spread-map",
        lambda dx: dx.call("queries.datafeed", feed_token="f", variables={"repo": "a\udcff"}),
        "queries.datafeed",
        ["'variables'['repo']", "lone surrogate"],
    ),
    (
        "lone-surrogate-in-extra-query",
        lambda dx: dx.call("teams.list", extra_query={"q": "\udcff"}),
        "teams.list",
        ["extra_query['q']", "lone surrogate"],
    ),
    (
        "lone-surrogate-in-extra-body-key",
        lambda dx: dx.call("catalog.entities.delete", identifier="a", extra_body={"\udcff": 1}),
        "catalog.entities.delete",
        ["extra_body key", "lone surrogate"],
    ),
    (
        "non-ascii-extra-header",
        lambda dx: dx.call("teams.list", extra_headers={"X-Name": "\udcff"}),
        "teams.list",
        ["extra_headers['X-Name']", "non-ASCII"],
    ),
    (
        "url-too-long",  # a 1 MB argument was sent
        lambda dx: dx.call("catalog.entities.info", identifier="x" * 1_000_000),
        "catalog.entities.info",
        ["argument 'identifier'", "1000", "8000-byte cap"],
    ),
    (
        "url-too-long-after-escaping",  # 1,000 characters, 9,000 bytes once percent-encoded
        lambda dx: dx.call("catalog.entities.info", identifier="é" * 1500),
        "catalog.entities.info",
        ["argument 'identifier'", "8000-byte cap"],
    ),
    (
        "url-too-long-spread-map",
        lambda dx: dx.call("queries.datafeed", feed_token="f", variables={"big": "v" * 9000}),
        "queries.datafeed",
        ["argument 'variables'", "8000-byte cap"],
    ),
    (
        "url-too-long-extra-query",
        lambda dx: dx.call("teams.list", extra_query={"q": "v" * 9000}),
        "teams.list",
        ["extra_query['q']", "8000-byte cap"],
    ),
    (
        "naive-datetime",  # once silently taken as UTC
        lambda dx: dx.call("events.track", name="e", timestamp=dt.datetime(2024, 1, 1)),
        "events.track",
        ["'timestamp'", "naive datetime", "tzinfo"],
    ),
    (
        "naive-datetime-in-json",
        lambda dx: dx.call(
            "events.track",
            name="e",
            timestamp=dt.datetime(2024, 1, 1, tzinfo=dt.UTC),
            metadata={"at": dt.datetime(2024, 1, 1)},
        ),
        "events.track",
        ["'metadata'['at']", "naive datetime"],
    ),
    (
        "bytes-in-json",
        lambda dx: dx.call(
            "catalog.entities.upsert", identifier="a", type="s", properties={"x": b"raw"}
        ),
        "catalog.entities.upsert",
        ["'properties'['x']", "bytes"],
    ),
    (
        "infinity-in-json",
        lambda dx: dx.call(
            "catalog.entities.upsert", identifier="a", type="s", properties={"x": [INF]}
        ),
        "catalog.entities.upsert",
        ["'properties'['x'][0]", "inf"],
    ),
    (
        "nan-in-query-json",  # a GET once sent the text "NaN"
        lambda dx: dx.call("teams.list", extra_query={"filter": {"min": NAN}}),
        "teams.list",
        ["extra_query['filter']['min']", "nan"],
    ),
    (
        "extra-body-on-a-get",
        lambda dx: dx.call("teams.list", extra_body={"x": 1}),
        "teams.list",
        ["extra_body", "no body"],
    ),
    (
        "unknown-method",
        lambda dx: dx.call("catalog.entities.nope"),
        "catalog.entities.nope",
        ["no such web method"],
    ),
    (
        "datacloud-method-on-web-client",
        lambda dx: dx.call("deployments.create", service="x"),
        "deployments.create",
        ["no such web method"],
    ),
]


@pytest.mark.parametrize(
    ("call", "method", "words"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
async def test_bad_input_is_refused_before_any_request(
    fake: FakeDX, call: Call, method: str, words: list[str]
) -> None:
    async with fake.client(rate_limit=(10, 60.0)) as dx:
        with pytest.raises(ArgumentError) as info:
            await call(dx)
        err = info.value
        assert isinstance(err, TypeError)  # generic handlers keep working
        assert err.method == method
        assert str(err).startswith(method)
        for word in words:
            assert word in str(err), (word, str(err))
        assert fake.requests == []
        assert dx.stats["requests"] == 0
        assert dx.limiter is not None
        assert dx.limiter.granted == 0  # no rate-limit token was spent


DeployArgs = dict[str, Any]
WHEN = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)

DATACLOUD_CASES: list[tuple[str, str, DeployArgs, list[str]]] = [
    # (id, method, arguments, words the error must contain)
    (
        "lone-surrogate-in-form-body",  # once a raw UnicodeEncodeError after a token was spent
        "deployments.create",
        {"service": "pay\udcffments", "deployed_at": WHEN},
        ["'service'", "lone surrogate"],
    ),
    (
        "lone-surrogate-in-shape-field",
        "deployments.create",
        {"service": ServiceRef(identifier="s\udcff"), "deployed_at": WHEN},
        ["'service'.identifier", "lone surrogate"],
    ),
    (
        "naive-datetime-as-unix-seconds",
        "deployments.create",
        {"service": "api", "deployed_at": dt.datetime(2024, 1, 1)},
        ["'deployed_at'", "naive datetime"],
    ),
    (
        "infinite-unix-seconds",
        "deployments.create",
        {"service": "api", "deployed_at": INF},
        ["'deployed_at'", "inf"],
    ),
    (
        "nan-float",
        "customMetrics.push",
        {"reference": "o/r", "key": "k", "value": NAN},
        ["'value' is nan"],
    ),
    (
        "empty-idempotency-key",  # once made the write count as safe to resend
        "repoGroups.upsert",
        {"name": "g", "reference_id": ""},
        ["'reference_id' is blank", "idempotency key"],
    ),
    (
        "blank-idempotency-key",
        "repoGroups.upsert",
        {"name": "g", "reference_id": " \t"},
        ["'reference_id' is blank"],
    ),
]


@pytest.mark.parametrize("encoding", ["json", "form"])
@pytest.mark.parametrize(
    ("method", "args", "words"),
    [c[1:] for c in DATACLOUD_CASES],
    ids=[c[0] for c in DATACLOUD_CASES],
)
async def test_data_cloud_input_that_cannot_travel_is_refused_before_any_request(
    fake: FakeDX, encoding: Any, method: str, args: DeployArgs, words: list[str]
) -> None:
    async with fake.datacloud_client(encoding=encoding, rate_limit=(10, 60.0)) as dc:
        with pytest.raises(ArgumentError) as info:
            await dc.call(method, **args)
        assert info.value.method == method
        for word in words:
            assert word in str(info.value), (word, str(info.value))
        assert fake.requests == []
        assert dc.limiter is not None and dc.limiter.granted == 0


async def test_values_that_can_travel_still_do(fake: FakeDX) -> None:
    """The refusals above are exact: text beyond ASCII, a URL just under the cap, a zone."""
    async with fake.client() as dx:
        await dx.call("teams.list", extra_query={"q": "żółw 🐢", "pad": "v" * 7900})
        await dx.call("events.track", name="é", timestamp=WHEN.astimezone())
    async with fake.datacloud_client(encoding="form") as dc:
        await dc.call("repoGroups.upsert", name="g", reference_id="r-1")
    first, track, upsert = fake.requests
    assert first.query["q"] == "żółw 🐢" and len(first.query["pad"]) == 7900
    assert track.body["timestamp"] == str(int(WHEN.timestamp()))
    assert upsert.body == {"name": "g", "reference_id": "r-1"}


async def test_unknown_keyword_on_a_typed_method_is_a_type_error(fake: FakeDX) -> None:
    async with fake.client() as dx:
        with pytest.raises(TypeError, match="identifer"):
            await dx.catalog.entities.info(identifer="a")  # type: ignore[call-arg]
        with pytest.raises(TypeError):
            await dx.catalog.entities.info("a")  # type: ignore[call-arg]  # keyword-only
        assert fake.requests == []


async def test_an_upload_at_the_limit_is_sent(fake: FakeDX, tmp_path: pathlib.Path) -> None:
    path = tmp_path / "people.csv"
    path.write_bytes(b"email\n" + b"a@example.com\n" * 10)
    async with fake.client() as dx:
        await dx.call("orgfiles.upload", file=path)
        await dx.call("orgfiles.upload", file=str(path))
        await dx.call("orgfiles.upload", file=b"email\nb@example.com\n")
    assert len(fake.requests_for("orgfiles.upload")) == 3


async def test_error_message_names_problem_without_values_of_other_arguments(
    fake: FakeDX,
) -> None:
    async with fake.client() as dx:
        with pytest.raises(dxapi.ArgumentError) as info:
            await dx.call("catalog.entities.create", identifier="a", type=7)
    assert info.value.problems == ["argument 'type' must be str, got int"]
