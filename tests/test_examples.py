"""Every example in docs/examples runs against FakeDX, as a user would run it, so none can rot.

The scripts run as subprocesses with ``$DX_BASE_URL``/``$DX_API_TOKEN`` (or the Data Cloud
variables) pointed at the fake; the service is driven in-process; the example tests run in a
pytest session of their own.
"""

from __future__ import annotations

import asyncio
import csv
import importlib.util
import json
import os
import sys
from pathlib import Path
from types import ModuleType

import pytest
from aiohttp.test_utils import TestClient, TestServer

from dxapi.testing import FakeDX

pytest_plugins = ["pytester"]

EXAMPLES = Path(__file__).resolve().parent.parent / "docs" / "examples"


async def _run(script: str, *args: str, env: dict[str, str]) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        str(EXAMPLES / script),
        *args,
        env={**os.environ, **env},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 120)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


def _web_env(fake: FakeDX) -> dict[str, str]:
    return {"DX_BASE_URL": fake.url, "DX_API_TOKEN": fake.token}


def _load(script: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(script.removesuffix(".py"), EXAMPLES / script)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_example_is_tested() -> None:
    tested = {"service_handler.py", "bulk_export.py", "query_to_csv.py"}
    tested |= {"report_deployment.py", "test_with_fake.py"}
    assert {p.name for p in EXAMPLES.glob("*.py")} == tested
    page = (EXAMPLES / "index.md").read_text()
    assert all(f'--8<-- "docs/examples/{name}"' in page for name in tested)


@pytest.mark.dx_fake(teams=4, entities=25)
async def test_service_handler(dx_fake: FakeDX, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in _web_env(dx_fake).items():
        monkeypatch.setenv(name, value)
    app = _load("service_handler.py").make_app()
    team_id, team = next(iter(dx_fake.store.teams.items()))
    async with TestClient(TestServer(app)) as http:
        answer = await http.get(f"/teams/{team_id}")
        assert answer.status == 200
        assert (await answer.json())["name"] == team["name"]
        assert (await http.get("/teams/no-such-team")).status == 404
        services = (await (await http.get("/services")).json())["services"]
    wanted = [i for i, e in dx_fake.store.entities.items() if e["type"] == "service"]
    assert sorted(services) == sorted(wanted) != []


@pytest.mark.dx_fake(entities=40)
async def test_bulk_export(dx_fake: FakeDX, tmp_path: Path) -> None:
    out = tmp_path / "scorecards.jsonl"
    rc, _, err = await _run("bulk_export.py", str(out), env=_web_env(dx_fake))
    assert rc == 0, err
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    published = [c for c in dx_fake.store.scorecards.values() if c.get("published")]
    assert len(lines) == len(dx_fake.store.entities) * len(published) > 0
    assert {line["entity"] for line in lines} == set(dx_fake.store.entities)


@pytest.mark.dx_fake(query_rows=1500)
async def test_query_to_csv(dx_fake: FakeDX, tmp_path: Path) -> None:
    out = tmp_path / "repos.csv"
    sql = "SELECT id, name FROM github_repos"
    rc, stdout, err = await _run("query_to_csv.py", sql, str(out), env=_web_env(dx_fake))
    assert rc == 0, err
    assert "the CSV has them all" in stdout  # more than the inline 1000
    with out.open(newline="") as f:
        assert len(list(csv.reader(f))) == 1 + 1500


def _ci_env(fake: FakeDX) -> dict[str, str]:
    return {
        "DX_DATACLOUD_BASE_URL": fake.url + "/api",
        "DX_DATACLOUD_TOKEN": fake.token,
        "GITHUB_REPOSITORY": "acme/payments",
        "GITHUB_RUN_ID": "4242",
        "GITHUB_RUN_ATTEMPT": "1",
        "GITHUB_SHA": "d1a34f0c9b",
    }


async def test_report_deployment_once_per_ci_run(dx_fake: FakeDX) -> None:
    ref = "acme/payments/4242/1/payments-api"
    for _ in range(2):  # the step runs again in the same job
        rc, stdout, err = await _run(
            "report_deployment.py", "--service", "payments-api", env=_ci_env(dx_fake)
        )
        assert rc == 0, err
        # Within the same second the values are equal and DX accepts them again.
        assert stdout.strip().endswith(("created", "upserted"))
    rc, _, err = await _run("report_deployment.py", "--service", "worker", env=_ci_env(dx_fake))
    assert rc == 0, err  # another service deployed by the same run has a key of its own
    assert sorted(dx_fake.store.deployments) == [ref, "acme/payments/4242/1/worker"]
    assert dx_fake.store.deployments[ref]["service"] == "payments-api"
    assert dx_fake.store.deployments[ref]["commit_sha"] == "d1a34f0c9b"


async def test_report_deployment_already_recorded(dx_fake: FakeDX) -> None:
    ref = "acme/payments/4242/1/payments-api"
    earlier = {"reference_id": ref, "service": "payments-api", "deployed_at": 1_700_000_000}
    dx_fake.store.deployments[ref] = dict(earlier)  # reported by an earlier try of this step
    rc, stdout, err = await _run(
        "report_deployment.py", "--service", "payments-api", env=_ci_env(dx_fake)
    )
    assert rc == 0, err
    assert stdout.strip().endswith("upserted")
    assert [r.status for r in dx_fake.requests] == [422, 200]  # create refused, then upsert
    assert list(dx_fake.store.deployments) == [ref]
    assert dx_fake.store.deployments[ref]["commit_sha"] == "d1a34f0c9b"


async def test_report_deployment_upserts_after_an_unknown_outcome(dx_fake: FakeDX) -> None:
    dx_fake.inject("deployments.create", status=503)  # may have been recorded: not resent
    rc, stdout, err = await _run(
        "report_deployment.py", "--service", "payments-api", env=_ci_env(dx_fake)
    )
    assert rc == 0, err
    assert stdout.strip().endswith("upserted")
    assert [r.method for r in dx_fake.requests] == ["deployments.create", "deployments.upsert"]
    assert (
        dx_fake.store.deployments["acme/payments/4242/1/payments-api"]["service"] == "payments-api"
    )


async def test_report_deployment_fails_the_step_when_refused(dx_fake: FakeDX) -> None:
    env = {**_ci_env(dx_fake), "DX_DATACLOUD_TOKEN": "not-a-token"}
    rc, _, err = await _run("report_deployment.py", "--service", "payments-api", env=env)
    assert rc == 1
    assert err.startswith("deployment not reported:")
    assert "not-a-token" not in err


def test_example_tests_pass(pytester: pytest.Pytester) -> None:
    pytester.makeini(
        "[pytest]\nasyncio_default_fixture_loop_scope = function\n"
        "addopts = --strict-markers -p no:cacheprovider -p no:hypothesispytest\n"
        "filterwarnings = error\n"
    )
    pytester.makepyfile(test_with_fake=(EXAMPLES / "test_with_fake.py").read_text())
    result = pytester.runpytest_subprocess(timeout=120)
    result.assert_outcomes(passed=4)
