"""The Data Cloud registry against the reference: every method, its example on the wire, its answer.

The reference (``tests/fixtures/reference/dx-datacloud-catalog.jsonl``) holds the documented example
request of most methods. Each one is replayed through the typed method, in JSON and in form
encoding, and the request that reaches the wire is compared with it: verb, ``/api/<name>``,
query and body.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aioresponses import aioresponses
from yarl import URL

import dxapi
from codegen.naming import py_name
from dxapi._generated.shapes import RepoGroup, RepoRef
from dxapi._generated.specs import METHODS

BASE = "https://acme.getdx.net/api"
CATALOG_FILE = (
    Path(__file__).resolve().parent / "fixtures" / "reference" / "dx-datacloud-catalog.jsonl"
)


def _catalog() -> list[dict[str, Any]]:
    with CATALOG_FILE.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


CATALOG = {entry["name"]: entry for entry in _catalog()}
REPLAYED = {
    json.loads(line)["method"]
    for line in (CATALOG_FILE.parent.parent / "replay" / "exchanges.jsonl")
    .read_text()
    .splitlines()
    if line.strip()
}
EXAMPLES = {name: e for name, e in CATALOG.items() if e.get("example_request")}


def resolve(client: object, name: str) -> Any:
    """``deployments.setPullServices`` → ``client.deployments.set_pull_services``."""
    target = client
    for part in name.split("."):
        target = getattr(target, py_name(part))
    return target


def form_text(value: Any) -> str:
    """What a documented JSON value looks like as a URL-encoded form field."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | dict):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


@pytest.fixture
def mocked() -> Iterator[aioresponses]:
    with aioresponses() as m:
        yield m


@pytest.fixture(autouse=True)
def _quiet_deprecations() -> Iterator[None]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        yield


def only_request(m: aioresponses) -> tuple[str, URL, dict[str, Any]]:
    assert len(m.requests) == 1, m.requests
    ((verb, url), calls) = next(iter(m.requests.items()))
    assert len(calls) == 1
    return verb, url, calls[0].kwargs


# ------------------------------------------------------------------------- the surface


def test_registry_covers_every_reference_method() -> None:
    assert len(CATALOG) == 26
    extra = set(dxapi.DataCloudClient.methods()) - set(CATALOG)
    assert set(CATALOG) <= set(dxapi.DataCloudClient.methods())
    # Methods the docs lack are those a public client was seen calling (the replay suite).
    assert extra <= REPLAYED, sorted(extra - REPLAYED)
    for name, entry in CATALOG.items():
        spec = METHODS[name]
        assert spec.api == "datacloud"
        assert spec.http == entry["http"], name
        assert spec.path == "/" + name
        documented = {a["name"] for a in entry["args"]}
        assert documented <= {a.name for a in spec.args}, name
        required = {a["name"] for a in entry["args"] if a["required"]}
        assert required <= {a.name for a in spec.args if a.required}, name


@pytest.mark.parametrize("name", sorted(CATALOG))
def test_every_method_resolves_on_the_client(name: str) -> None:
    dc = dxapi.DataCloudClient(token="t", instance="acme")
    method = resolve(dc, name)
    assert callable(method)
    assert f"{METHODS[name].http} {name}" in (method.__doc__ or "")


def test_web_client_does_not_carry_datacloud_methods() -> None:
    assert not set(dxapi.Client.methods()) & set(CATALOG)
    assert not hasattr(dxapi.Client(token="t"), "deployments")


def test_client_configuration_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DX_DATACLOUD_TOKEN", "env-token")
    monkeypatch.setenv("DX_DATACLOUD_INSTANCE", "globex")
    dc = dxapi.DataCloudClient()
    assert dc.base_url == "https://globex.getdx.net/api"
    assert "env-token" not in repr(dc)
    assert dxapi.DataCloudClient(base_url="http://127.0.0.1:9/api").base_url.endswith("/api")
    monkeypatch.delenv("DX_DATACLOUD_INSTANCE")
    with pytest.raises(ValueError, match="instance"):
        dxapi.DataCloudClient()
    with pytest.raises(ValueError, match="encoding"):
        dxapi.DataCloudClient(instance="acme", encoding="xml")  # type: ignore[arg-type]


# ------------------------------------------------------- reference examples on the wire


def _kwargs(example: dict[str, Any]) -> dict[str, Any]:
    values = {**(example.get("query") or {}), **(example.get("json") or {})}
    return {py_name(k): v for k, v in values.items()}


@pytest.mark.parametrize("encoding", ["json", "form"])
@pytest.mark.parametrize("name", sorted(EXAMPLES))
async def test_reference_example_request_on_the_wire(
    name: str, encoding: str, mocked: aioresponses
) -> None:
    example = EXAMPLES[name]["example_request"]
    mocked.add(
        re.compile(re.escape(f"{BASE}/{name}") + r"(\?.*)?$"),
        example["http"],
        payload={"ok": True},
    )
    async with dxapi.DataCloudClient(token="t", instance="acme", encoding=encoding) as dc:  # type: ignore[arg-type]
        await resolve(dc, name)(**_kwargs(example))
    verb, url, sent = only_request(mocked)
    assert verb == example["http"]
    assert url.path == f"/api/{name}"
    assert dict(url.query) == {k: form_text(v) for k, v in (example.get("query") or {}).items()}
    body = example.get("json")
    if not body:
        assert sent.get("json") is None and sent.get("data") is None
    elif encoding == "json":
        assert sent["json"] == body
        assert sent.get("data") is None
    else:
        assert sent.get("json") is None
        fields = list(sent["data"])
        assert len({k for k, _ in fields}) == len(fields)
        assert dict(fields) == {k: form_text(v) for k, v in body.items()}


async def test_per_call_encoding_shares_the_client(mocked: aioresponses) -> None:
    mocked.post(f"{BASE}/deployments.delete", payload={"ok": True}, repeat=True)
    async with dxapi.DataCloudClient(token="t", instance="acme") as dc:
        await dc.with_options(encoding="form").deployments.delete(reference_id="r1")
        await dc.deployments.delete(reference_id="r2")
        assert dc.stats["requests"] == 2
    calls = mocked.requests[("POST", URL(f"{BASE}/deployments.delete"))]
    assert calls[0].kwargs["data"] == [("reference_id", "r1")]
    assert calls[0].kwargs.get("json") is None
    assert calls[1].kwargs["json"] == {"reference_id": "r2"}


async def test_requests_carry_the_bearer_token_and_accept_json(mocked: aioresponses) -> None:
    mocked.post(f"{BASE}/customData.delete", payload={"ok": True})
    async with dxapi.DataCloudClient(token="sekret", instance="acme") as dc:
        await dc.custom_data.delete(id="399599e8")
    _, _, sent = only_request(mocked)
    assert sent["headers"]["Authorization"] == "Bearer sekret"
    assert sent["headers"]["Accept"] == "application/json"


# ------------------------------------------------------------------- answers parse


@pytest.mark.parametrize("name", sorted(CATALOG))
async def test_every_method_parses_its_documented_answer(name: str, mocked: aioresponses) -> None:
    entry = CATALOG[name]
    answer = entry["example_response"] or {"ok": True}
    example = entry["example_request"] or {"http": entry["http"], "json": _minimal_args(name)}
    mocked.add(
        re.compile(re.escape(f"{BASE}/{name}") + r"(\?.*)?$"), entry["http"], payload=answer
    )
    async with dxapi.DataCloudClient(token="t", instance="acme") as dc:
        result = await resolve(dc, name)(**_kwargs(example))
    assert type(result).__name__ == METHODS[name].result


def _minimal_args(name: str) -> dict[str, Any]:
    spec = METHODS[name]
    samples: dict[str, Any] = {
        "reference_id": "ref-1",
        "deployed_at": "2025-01-01T12:05:00",
        "started_at": "2025-01-01T12:05:00",
        "pipeline_name": "build",
        "pipeline_source": "Tekton",
    }
    return {a.name: samples[a.name] for a in spec.args if a.required}


async def test_repo_group_answer_is_typed(mocked: aioresponses) -> None:
    answer = CATALOG["repoGroups.get"]["example_response"]
    mocked.get(f"{BASE}/repoGroups.get?reference_id=frontend-team", payload=answer)
    async with dxapi.DataCloudClient(token="t", instance="acme") as dc:
        result = await dc.repo_groups.get(reference_id="frontend-team")
    group = result.data
    assert isinstance(group, RepoGroup)
    assert (group.id, group.reference_id, group.name, group.parent_id) == (
        123,
        "frontend-team",
        "Frontend Team",
        456,
    )
    assert group.row_created_at == dt.datetime(2024, 1, 1, 10, tzinfo=dt.UTC)
    assert group.repos == [
        RepoRef(source="github", external_id="12345"),
        RepoRef(source="github", external_id="67890"),
    ]


async def test_delete_answers_are_typed(mocked: aioresponses) -> None:
    mocked.post(
        f"{BASE}/deployments.delete", payload=CATALOG["deployments.delete"]["example_response"]
    )
    mocked.post(
        f"{BASE}/incidents.delete",
        payload={"ok": True, "action": "not_found", "reference_id": "gone"},
    )
    async with dxapi.DataCloudClient(token="t", instance="acme") as dc:
        deleted = await dc.deployments.delete(reference_id="release-v2.4.0")
        missing = await dc.incidents.delete(reference_id="gone")
    assert (deleted.action, deleted.reference_id) == ("deleted", "release-v2.4.0")
    assert (missing.action, missing.reference_id) == ("not_found", "gone")


async def test_custom_data_and_ai_tool_answers_are_typed(mocked: aioresponses) -> None:
    record = {
        "id": "r1",
        "reference": "org/repo",
        "key": "k",
        "value": {"v": 1},
        "timestamp": "2024-01-01T11:22:33Z",
        "extra": 1,
    }
    mocked.get(
        f"{BASE}/customData.getAllByReference?reference=org/repo",
        payload={"ok": True, "data": [record]},
    )
    mocked.post(
        f"{BASE}/aiToolMetrics.push",
        payload={
            "ok": True,
            "id": "m1",
            "email": "a@example.com",
            "date": "2025-01-15",
            "is_active": True,
            "tool": "tabnine",
            "metrics": {"usage": 100},
        },
    )
    async with dxapi.DataCloudClient(token="t", instance="acme") as dc:
        records = (await dc.custom_data.get_all_by_reference(reference="org/repo")).data
        pushed = await dc.ai_tool_metrics.push(
            email="a@example.com",
            date=dt.date(2025, 1, 15),
            is_active=True,
            tool="tabnine",
            metrics={"usage": 100},
        )
    assert records is not None and records[0].value == {"v": 1}
    assert records[0].timestamp == dt.datetime(2024, 1, 1, 11, 22, 33, tzinfo=dt.UTC)
    assert (pushed.id, pushed.date, pushed.is_active, pushed.metrics) == (
        "m1",
        dt.date(2025, 1, 15),
        True,
        {"usage": 100},
    )


async def test_error_answer_is_a_typed_api_error(mocked: aioresponses) -> None:
    mocked.post(
        f"{BASE}/deployments.update",
        status=422,
        payload={"ok": False, "error": "deployment_not_found", "message": "no such deployment"},
    )
    async with dxapi.DataCloudClient(token="t", instance="acme") as dc:
        with pytest.raises(dxapi.NotFoundError) as info:
            await dc.deployments.update(reference_id="nope", environment="production")
    assert (info.value.error, info.value.status, info.value.method) == (
        "deployment_not_found",
        422,
        "deployments.update",
    )
    assert "no such deployment" in str(info.value)


async def test_bad_arguments_fail_before_any_request(mocked: aioresponses) -> None:
    async with dxapi.DataCloudClient(token="t", instance="acme") as dc:
        with pytest.raises(dxapi.ArgumentError) as info:
            await dc.call("deployments.create", service="api", deploy_at=1)
        with pytest.raises(dxapi.ArgumentError, match="must be one of"):
            await dc.custom_metrics.list(reference="r", key="k", order="up")  # type: ignore[arg-type]
        with pytest.raises(dxapi.ArgumentError, match="None"):
            await dc.deployments.create(service="api", deployed_at=None)  # type: ignore[arg-type]
    assert "missing required argument 'deployed_at'" in info.value.problems
    assert "unknown argument 'deploy_at'" in info.value.problems
    assert not mocked.requests


async def test_legacy_sync_methods_are_callable_without_a_warning(
    mocked: aioresponses, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DX's own clients still call the .sync forms and DX calls them neither deprecated nor
    going away; only what DX deprecates (custom metrics) warns."""
    import dxapi._prepare

    monkeypatch.setattr(dxapi._prepare, "_warned", set())
    mocked.post(f"{BASE}/incidents.sync", payload={"ok": True})
    mocked.post(f"{BASE}/pipelineRuns.sync", payload={"ok": True})
    mocked.post(f"{BASE}/customMetrics.delete", payload={"ok": True})
    assert not METHODS["incidents.sync"].deprecated
    assert not METHODS["pipelineRuns.sync"].deprecated
    async with dxapi.DataCloudClient(token="t", instance="acme") as dc:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            await dc.incidents.sync(
                reference_id="r", started_at="2024-01-01T11:22:33", services=["payments-api"]
            )
            await dc.pipeline_runs.sync(
                pipeline_name="p", pipeline_source="Jenkins", reference_id="r", started_at="1"
            )
        assert not [w for w in caught if issubclass(w.category, DeprecationWarning)]
        with pytest.warns(DeprecationWarning, match="Custom Tables"):
            await dc.custom_metrics.delete(id="m1")


# ------------------------------------------------------------------------ idempotency

IDEMPOTENT = {
    "deployments.upsert", "deployments.update", "deployments.delete",
    "incidents.upsert", "incidents.delete", "incidents.sync",
    "pipelineRuns.upsert", "pipelineRuns.sync",
    "customData.get", "customData.getAllByReference", "customData.set", "customData.setAll",
    "customData.delete", "customData.deleteAllByReference",
    "customMetrics.list", "customMetrics.delete",
    "repoGroups.get", "repoGroups.delete",
}  # fmt: skip
NOT_IDEMPOTENT = {
    "deployments.create", "deployments.setPullServices", "customMetrics.push",
    "repoGroups.upsert", "repoGroups.addRepos", "repoGroups.removeRepos",
    "aiToolMetrics.push", "aiToolMetrics.pushAll",
}  # fmt: skip


def test_idempotency_is_declared_for_every_method() -> None:
    assert set(CATALOG) == IDEMPOTENT | NOT_IDEMPOTENT
    assert not IDEMPOTENT & NOT_IDEMPOTENT
    for name in IDEMPOTENT:
        assert METHODS[name].idempotent, name
    for name in NOT_IDEMPOTENT:
        assert not METHODS[name].idempotent, name
