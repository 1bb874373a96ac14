"""``dxapi probe`` end to end: a drifting FakeDX → report → patch → regenerate → ``--diff``."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from dxapi._generated.specs import METHODS
from dxapi.cli.__main__ import amain
from dxapi.probe import is_safe, probe, probe_records, read_records
from dxapi.testing import Drift, FakeDX
from dxapi.testing._reply import Call

ROOT = Path(__file__).resolve().parents[2]
DRIFT = [
    Drift.add_field("Entity", "tier", "gold"),
    Drift.remove_field("Team", "id"),
    Drift.retype("EntityType", "ordering", "str"),
    Drift.enum_value("QueryRun", "status", "cancelled"),
]
#: (kind, shape, field, proposal): what the drift above must produce, and nothing else.
EXPECTED = {
    ("new_field", "Entity", "tier", "str"),
    ("absent", "Team", "id", ""),
    ("type", "EntityType", "ordering", "str"),
    ("enum", "QueryRun", "status", "cancelled"),
}


def sh(
    *argv: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, check=False)


def finished_run(fake: FakeDX) -> str:
    """A query run that has already ended, made in the fake's state (no request is sent)."""
    spec = METHODS["studio.queryRuns.execute"]
    answer = fake.query_runs.execute(Call(spec, {"sql": "SELECT 1"}))
    return str(answer.payload["query_run"]["id"])  # type: ignore[union-attr]


@pytest.fixture
async def drifting() -> AsyncIterator[FakeDX]:
    async with FakeDX(drift=DRIFT, query_run_seconds=0.0, rate_limit=(25, 1.0)) as fake:
        yield fake


async def probe_cli(fake: FakeDX, tmp: Path, *extra: str) -> tuple[int, str, str]:
    report, patch = tmp / "probe.md", tmp / "probe.diff"
    argv = ["probe", "--base-url", fake.url, "--token", fake.token, "--quiet",
            "--rate-limit", "25/1", "--report", str(report), "--patch", str(patch),
            "--registry", str(ROOT / "registry"), *extra]  # fmt: skip
    status = await amain(argv)
    return status, report.read_text(), patch.read_text()


def keys_in(records: Path) -> set[tuple[str, str, str, str]]:
    return {f.key for f in probe_records(read_records(records)).findings}


async def test_probe_reports_exactly_the_drift_and_only_reads(
    drifting: FakeDX, tmp_path: Path
) -> None:
    run_id = finished_run(drifting)
    status, report, patch = await probe_cli(
        drifting, tmp_path, "--arg", f"studio.queryRuns.info:id={run_id}",
        "--record", str(tmp_path / "answers.jsonl"),
    )  # fmt: skip
    assert status == 1
    assert keys_in(tmp_path / "answers.jsonl") == EXPECTED
    for shape, field in (("Entity", "tier"), ("Team", "id"), ("EntityType", "ordering")):
        assert f"| {shape} | `{field}` |" in report
    assert "'cancelled' is in none of waiter queryRun's lists" in report
    assert drifting.token not in report and drifting.token not in patch
    # every request was a read; the account window was never exceeded
    assert drifting.requests and {r.http for r in drifting.requests} == {"GET"}
    assert all(r.method and is_safe(METHODS[r.method]) for r in drifting.requests)
    assert "studio.queryRuns.info" in {r.method for r in drifting.requests}
    assert drifting.counters.refused_429 == 0
    assert drifting.counters.max_in_window(1.0) <= 25


async def test_the_python_api_finds_the_same(drifting: FakeDX) -> None:
    run_id = finished_run(drifting)
    async with drifting.client(rate_limit=(25, 1.0)) as dx:
        report = await probe(dx, args={"studio.queryRuns.info": {"id": run_id}})
    assert report.drift and {f.key for f in report.findings} == EXPECTED
    methods = {f.method for f in report.findings}
    assert {"catalog.entities.list", "catalog.entities.info", "teams.list"} <= methods
    assert "studio.queryRuns.info" in methods
    assert drifting.counters.refused_429 == 0


async def test_patch_regenerates_typed_results_and_diff_classifies_it(
    drifting: FakeDX, tmp_path: Path
) -> None:
    run_id = finished_run(drifting)
    records = tmp_path / "answers.jsonl"
    status, _, patch = await probe_cli(
        drifting, tmp_path, "--arg", f"studio.queryRuns.info:id={run_id}", "--record", str(records)
    )
    assert status == 1
    tree = tmp_path / "tree"
    for part in ("registry", "dxapi"):
        shutil.copytree(ROOT / part, tree / part, ignore=shutil.ignore_patterns("__pycache__"))
    (tree / "probe.diff").write_text(patch)
    applied = sh("patch", "-p1", "-i", "probe.diff", cwd=tree)
    assert applied.returncode == 0, applied.stdout + applied.stderr
    codegen = [sys.executable, "-m", "codegen", "--registry", str(tree / "registry")]
    made = sh(*codegen, "--out", str(tree / "dxapi/_generated"), cwd=ROOT)
    assert made.returncode == 0, made.stderr
    script = f"""
import json, dxapi
from dxapi._convert import structure
from dxapi._generated import specs
from dxapi.probe import read_records
from dxapi.probe._walk import result_class
assert dxapi.__file__.startswith({str(tree)!r}), dxapi.__file__
seen = {{}}
for r in read_records({str(records)!r}):
    if r.method in ("catalog.entities.info", "catalog.entityTypes.info", "teams.list"):
        seen[r.method] = structure(r.answer, result_class(specs.METHODS[r.method]))
print(json.dumps({{
    "tier": seen["catalog.entities.info"].entity.tier,
    "ordering": seen["catalog.entityTypes.info"].entity_type.ordering,
    "team_id": seen["teams.list"].teams[0].id,
    "failure": dict(specs.WAITERS["queryRun"].failure),
}}))
"""
    typed = sh(sys.executable, "-c", script, cwd=tree, env={"PYTHONPATH": str(tree)})
    assert typed.returncode == 0, typed.stderr
    values = json.loads(typed.stdout)
    assert values["tier"] == "gold" and isinstance(values["ordering"], str)
    assert values["team_id"] is None and values["failure"]["cancelled"] == "JobError"
    diff = sh(*codegen, "--diff", str(ROOT / "registry"), cwd=ROOT)
    lines = diff.stdout.splitlines()
    assert diff.returncode == 1, diff.stdout  # something breaks callers
    assert "+ shape Entity field tier: str" in lines
    assert "~ shape EntityType field ordering: type int → str  BREAKING" in lines
    assert "~ shape Team field id: may now be missing or null  BREAKING" in lines


async def test_recorded_answers_need_no_server(drifting: FakeDX, tmp_path: Path) -> None:
    records = tmp_path / "answers.jsonl"
    await probe_cli(drifting, tmp_path, "--record", str(records))
    drifting.reset()
    status = await amain(["probe", "--quiet", "--from", str(records),
                          "--report", str(tmp_path / "offline.md")])  # fmt: skip
    assert status == 1 and drifting.requests == []
    assert "| Entity | `tier` |" in (tmp_path / "offline.md").read_text()


async def test_no_drift_no_difference(tmp_path: Path) -> None:
    async with FakeDX(query_run_seconds=0.0) as fake:
        run_id = finished_run(fake)
        status, report, patch = await probe_cli(
            fake, tmp_path, "--arg", f"studio.queryRuns.info:id={run_id}"
        )
    assert status == 0, report
    assert "no differences from the registry" in report and patch == ""


async def test_secrets_in_answers_stay_out_of_the_report(tmp_path: Path) -> None:
    leak = [Drift.add_field("Entity", "deploy_key", "dxfake_" + "0" * 40),
            Drift.add_field("Team", "contact", "ada.lovelace@example.com")]  # fmt: skip
    async with FakeDX(drift=leak) as fake:
        status, report, patch = await probe_cli(
            fake, tmp_path, "catalog.entities.list", "teams.list"
        )
    assert status == 1
    assert "| Entity | `deploy_key` |" in report and "| Team | `contact` |" in report
    assert "dxfake_" not in report and "@example.com" not in report and "<email>" in report
    assert fake.token not in report
    assert "+      deploy_key: str\n" in patch and "+      contact: str\n" in patch


async def test_without_a_token_probe_refuses(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("DX_API_TOKEN", raising=False)
    assert await amain(["probe"]) == 3
    assert "DX_API_TOKEN" in capsys.readouterr().err


async def test_writes_are_refused_before_any_request(drifting: FakeDX) -> None:
    argv = ["probe", "--base-url", drifting.url, "--token", drifting.token, "--quiet"]
    assert await amain([*argv, "catalog.entities.info", "catalog.entities.upsert"]) == 2
    assert drifting.requests == []


async def test_a_refused_token_exits_3(drifting: FakeDX) -> None:
    argv = ["probe", "--base-url", drifting.url, "--token", "wrong", "--quiet", "teams.list"]
    assert await amain(argv) == 3


@pytest.mark.parametrize(
    ("extra", "said"),
    [
        (["--arg", "teams.info:team_id"], "--arg 'teams.info:team_id': expected METHOD:key=value"),
        (["--arg", "nope.method:id=1"], "with a known METHOD"),
        (["--limit", "0"], "--limit must be 1 or more"),
    ],
)
async def test_bad_options_are_usage_errors(
    drifting: FakeDX, extra: list[str], said: str, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["probe", "--base-url", drifting.url, "--token", drifting.token, "--quiet", *extra]
    assert await amain(argv) == 2
    assert said in capsys.readouterr().err
    assert drifting.requests == []
