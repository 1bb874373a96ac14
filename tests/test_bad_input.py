"""Bad input fails with an ArgumentError naming the method and the argument, before any request."""

from __future__ import annotations

import io
import pathlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

import dxapi
from dxapi import ArgumentError, Client
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
