"""Every exchange recorded from DX's official CLI tests, replayed through the SDK.

Each line of ``official-cli-cases.jsonl`` is one mocked exchange: the method the CLI called,
what its test asserted it sent (``http``, ``query``, ``json``; null where not asserted) and
the status, headers and body the mock answered. For each, the SDK's generated method is
called with the same arguments under aioresponses, and:

- it sends what the official client was asserted to send;
- a 2xx answer comes back typed (an attrs result, not a dict);
- a 4xx answer raises ``APIError`` carrying the server's error code and the status, after
  exactly one request (a 409 on an ordinary method is an error, not a "wait and ask again").

The CSV download (a 303 to a presigned URL, then the file) is replayed through
``studio.query_runs.stream_csv``, which must not send the token to the other host.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import attrs
import pytest

import dxapi
from dxapi import RetryPolicy
from dxapi._generated.specs import METHODS
from tests._reference import (
    call,
    known_method,
    load_jsonl,
    required_args,
    sent,
    typed_args,
    url_pattern,
)

CASES = load_jsonl("official-cli-cases.jsonl")
INDEXED = list(enumerate(CASES))

#: The CSV follow-up of a 303 is not a DX method; it is replayed with the 303 before it.
REDIRECT_PAIRS = {
    i: CASES[i + 1]
    for i, c in INDEXED
    if 300 <= c["status"] < 400 and i + 1 < len(CASES) and CASES[i + 1]["case"] == c["case"]
}
FOLLOW_UPS = {i + 1 for i in REDIRECT_PAIRS}

#: Where the SDK follows DX's docs rather than the CLI, and what it sends instead.
KNOWN_DIFFERENCES = {
    # The docs' example and the Terraform provider send {"identifier"} as a JSON body; the
    # CLI puts it in the query. DX accepts both; the registry follows the docs.
    "catalog.entityTypes.delete": "query → json",
}


def _name(case: dict[str, Any]) -> str:
    return str(case["method"]).lstrip("/")


def _id(item: tuple[int, dict[str, Any]]) -> str:
    i, case = item
    return f"{i:03d}-{_name(case)}"


@pytest.fixture
async def dx(token: str) -> AsyncIterator[dxapi.Client]:
    async with dxapi.Client(
        token=token, retries=RetryPolicy(backoff=0.001, max_backoff=0.01)
    ) as client:
        yield client


def _args(spec: dxapi.MethodSpec, case: dict[str, Any]) -> dict[str, Any]:
    """Arguments reproducing what the CLI sent; placeholders where the test asserted nothing."""
    asserted = typed_args(spec, {"query": case["query"], "json": case["json"]})
    return {**required_args(spec), **asserted}


def test_every_recorded_method_is_in_the_registry() -> None:
    names = {_name(c) for i, c in INDEXED if i not in FOLLOW_UPS}
    missing = sorted(n for n in names if n not in METHODS)
    assert missing == [], f"methods the official CLI calls but the registry lacks: {missing}"


@pytest.mark.parametrize(
    "item", [x for x in INDEXED if x[0] not in FOLLOW_UPS and x[0] not in REDIRECT_PAIRS], ids=_id
)
async def test_exchange_replays(
    item: tuple[int, dict[str, Any]], mocked: Any, dx: dxapi.Client
) -> None:
    _, case = item
    spec = known_method(_name(case))
    register = mocked.get if spec.http == "GET" else mocked.post
    register(
        url_pattern(spec.name),
        status=case["status"],
        headers=case["headers"] or None,
        payload=case["response"],
    )
    if 200 <= case["status"] < 300:
        result = await call(dx, spec, _args(spec, case))
        assert attrs.has(type(result)), f"{spec.name} returned {type(result).__name__}"
    else:
        with pytest.raises(dxapi.APIError) as caught:
            await call(dx, spec, _args(spec, case))
        assert caught.value.error == case["response"]["error"]
        assert caught.value.status == case["status"]
        assert caught.value.method == spec.name
    [request] = sent(mocked)  # one request: no retry of a 4xx, no waiting on a 409
    assert request.path == f"/{spec.name}"
    if case["http"] is not None:
        assert request.verb == case["http"]
    query, body = case["query"], case["json"]
    if KNOWN_DIFFERENCES.get(spec.name) == "query → json" and query:
        query, body = {}, {**(body or {}), **query}
    if query is not None:
        assert request.query == query
    if body is not None:
        assert request.json == body
