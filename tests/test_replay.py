"""Exchanges of public DX clients, replayed through the typed SDK.

``fixtures/replay/exchanges.jsonl`` holds, per line, one call a public client of the DX Web API
or the Data Cloud API makes (DX's Jenkins plugin, MCP server and Backstage plugins, GitHub
Actions that report deployments, backfill scripts, PlatformX senders): the client and where in
its source the call is made, the method, the arguments exactly as the client sends them, the
answer (recorded by DX's CLI tests, documented, or shaped by the client's own response types)
and the answer fields the client reads. For each case:

- the typed call with those arguments is accepted (no ``ArgumentError``);
- the request on the wire is the client's: verb, path, query and JSON body;
- every field the client reads is on the typed result with the value DX sent (or, for an
  error answer, on the ``APIError``).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import warnings
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import attrs
import pytest

import dxapi
import dxapi._prepare
from dxapi import RetryPolicy
from dxapi.testing import FakeDX
from tests._reference import call, known_method, sent, typed_args, url_pattern

REPLAY = Path(__file__).resolve().parent / "fixtures" / "replay" / "exchanges.jsonl"
CASES = [json.loads(line) for line in REPLAY.read_text(encoding="utf-8").splitlines() if line]
BASES = {"web": "https://api.getdx.com", "datacloud": "https://acme.getdx.net/api"}


@pytest.fixture
async def clients(token: str) -> AsyncIterator[dict[str, Any]]:
    retries = RetryPolicy(max_retries=0)
    async with (
        dxapi.Client(token=token, retries=retries) as web,
        dxapi.DataCloudClient(token=token, instance="acme", retries=retries) as dc,
    ):
        yield {"web": web, "datacloud": dc}


def test_cases_are_many_and_name_their_provenance() -> None:
    assert len(CASES) >= 40
    assert len({c["case"] for c in CASES}) == len(CASES)
    for case in CASES:
        assert case["client"].count("/") == 1 and "@" in case["source"], case["case"]
        assert case["api"] in BASES and case["answer_from"], case["case"]
    assert len({c["client"] for c in CASES}) >= 10


@pytest.mark.parametrize("case", CASES, ids=[c["case"] for c in CASES])
async def test_exchange_replays(
    case: dict[str, Any], mocked: Any, clients: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(dxapi._prepare, "_warned", set())  # a legacy name warns once
    spec = known_method(case["method"])
    assert spec.api == case["api"] and spec.http == case["http"]
    base = BASES[spec.api]
    mocked.add(
        url_pattern(spec.name, base), spec.http, status=case["status"], payload=case["answer"]
    )
    args = typed_args(spec, {"query": case["query"], "json": case["json"]})
    warns = (
        pytest.warns(DeprecationWarning, match="deprecated")
        if spec.deprecated
        else contextlib.nullcontext()
    )
    with warns:
        if case["status"] < 300:
            result: Any = await call(clients[spec.api], spec, args)
        else:
            with pytest.raises(dxapi.APIError) as caught:
                await call(clients[spec.api], spec, args)
            result = caught.value

    [request] = sent(mocked)
    assert (request.verb, request.path) == (case["http"], f"{urlsplit(base).path}/{spec.name}")
    assert request.query == (case["query"] or {})
    # As JSON text, so that 1, 1.0, true and "1" stay different values.
    assert _text(request.json) == _text(case["json"])
    assert request.data is None

    if case["status"] >= 300:
        assert result.status == case["status"]
        for key in case["reads"]:
            assert getattr(result, key) == case["answer"][key], key
        return
    assert attrs.has(type(result)), f"{spec.name} returned {type(result).__name__}"
    for path in case["reads"]:
        for where, typed, sent_value in _walk(result, case["answer"], path.split(".")):
            _assert_kept(typed, sent_value, f"{case['case']}: {where}")


def _text(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


def _walk(typed: Any, payload: Any, steps: list[str], where: str = "") -> Iterator[Any]:
    """``(path, typed value, payload value)`` at a read path; ``name[]`` reads every item.

    The typed result must declare every key of the path, whether or not this answer has it.
    """
    if not steps:
        yield where, typed, payload
        return
    if payload is None:  # e.g. a check's output is null: nothing below it to read
        yield where, typed, payload
        return
    step, rest = steps[0], steps[1:]
    key = step.removesuffix("[]")
    assert isinstance(payload, dict), f"{where} is not an object in the answer"
    value = _field(typed, key, f"{where}.{key}")
    if key not in payload:  # an optional key (custom_options?) this answer leaves out
        return
    if not step.endswith("[]"):
        yield from _walk(value, payload[key], rest, f"{where}.{key}")
        return
    assert isinstance(value, list) and len(value) == len(payload[key]), f"{where}.{key}"
    for i, (t, p) in enumerate(zip(value, payload[key], strict=True)):
        yield from _walk(t, p, rest, f"{where}.{key}[{i}]")


def _field(typed: Any, key: str, where: str) -> Any:
    if isinstance(typed, dict):
        return typed.get(key)
    names = {f.alias or f.name: f.name for f in attrs.fields(type(typed))}
    assert key in names, f"{where}: the typed result has no field {key!r}"
    return getattr(typed, names[key])


def _assert_kept(typed: Any, value: Any, where: str) -> None:
    """The typed value stands for exactly what DX sent (in the fields the registry declares)."""
    if value is None:
        assert typed is None, where
    elif isinstance(typed, dt.datetime):
        assert typed == dt.datetime.fromisoformat(value.replace("Z", "+00:00")), where
    elif isinstance(value, dict) and not isinstance(typed, dict):
        assert attrs.has(type(typed)), f"{where}: {typed!r}"
        names = {f.alias or f.name: f.name for f in attrs.fields(type(typed))}
        for key, item in value.items():
            if key in names:
                _assert_kept(getattr(typed, names[key]), item, f"{where}.{key}")
    elif isinstance(value, dict):
        assert isinstance(typed, dict) and typed.keys() == value.keys(), where
        for key, item in value.items():
            _assert_kept(typed[key], item, f"{where}.{key}")
    elif isinstance(value, list):
        assert isinstance(typed, list) and len(typed) == len(value), where
        for i, (t, v) in enumerate(zip(typed, value, strict=True)):
            _assert_kept(t, v, f"{where}[{i}]")
    elif isinstance(value, int | float) and not isinstance(value, bool):
        assert isinstance(typed, int | float) and not isinstance(typed, bool), where
        assert typed == value, where
    else:
        assert type(typed) is type(value) and typed == value, where


async def test_the_fake_accepts_every_replayed_request() -> None:
    """FakeDX is built from the same specs: no client request is refused as invalid there."""
    refused = {}
    async with (
        FakeDX(rate_limit=None) as fake,
        fake.client(retries=RetryPolicy(max_retries=0)) as web,
        fake.datacloud_client(retries=RetryPolicy(max_retries=0)) as dc,
    ):
        clients = {"web": web, "datacloud": dc}
        for case in CASES:
            spec = known_method(case["method"])
            args = typed_args(spec, {"query": case["query"], "json": case["json"]})
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)
                try:
                    await call(clients[spec.api], spec, args)
                except dxapi.APIError as exc:  # an entity the fake lacks is fine; bad input is not
                    if exc.error == "invalid_arguments":
                        refused[case["case"]] = exc.message
        assert {r.method for r in fake.requests} == {c["method"] for c in CASES}
    assert refused == {}
