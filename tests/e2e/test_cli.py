"""The ``dxapi`` command line against FakeDX: in-process (``amain``) and as a subprocess.

Set ``DXAPI_SLOW_TESTS=1`` to run the full-size fan-out (10,000 entities against a 1000/6 s
window); the normal pass uses a smaller data set and window with the same shape.
"""

from __future__ import annotations

import csv
import json
import os
import random
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import anyio
import pytest

from dxapi.cli.__main__ import amain
from dxapi.testing import FakeDX

SLOW = os.environ.get("DXAPI_SLOW_TESTS") == "1"
EACH = ["--each", "catalog.entities.scorecards", "--each-param", "limit=100"]


def against(fake: FakeDX, *argv: str) -> list[str]:
    return ["--base-url", fake.url, "--token", fake.token, "--quiet", *argv]


def names(folder: Path) -> list[str]:
    """The names of what a folder holds, sorted."""
    return sorted(p.name for p in folder.iterdir())


def records(path: Path) -> list[str]:
    """The file's complete lines (a partial last line does not count)."""
    data = path.read_bytes() if path.exists() else b""
    return data[: data.rfind(b"\n") + 1].decode().splitlines()


async def until(ready: Callable[[], bool], seconds: float = 20.0) -> None:
    """Poll until another process's files say ``ready()`` (there is no event to wait on)."""
    with anyio.fail_after(seconds):
        while True:
            if ready():
                return
            await anyio.sleep(0.005)


@pytest.fixture
async def fake() -> AsyncIterator[FakeDX]:
    async with FakeDX(entities=120, rate_limit=(1000, 60.0)) as server:
        yield server


async def all_entities(fake: FakeDX) -> list[dict[str, Any]]:
    async with fake.client(rate_limit=None) as dx:
        return [e async for e in dx.paginate("catalog.entities.list")]


# ----------------------------------------------------------------- methods and call


async def test_methods_lists_and_filters(capsys: pytest.CaptureFixture[str]) -> None:
    assert await amain(["methods", "--family", "catalog.entities"]) == 0
    lines = capsys.readouterr().out.splitlines()
    names = [line.split()[0] for line in lines]
    assert "catalog.entities.list" in names
    assert all(n.startswith("catalog.entities.") for n in names)
    assert await amain(["methods", "--scope", "catalog:read", "--json"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert rows
    assert {r["scope"] for r in rows} == {"catalog:read"}


async def test_call_prints_typed_and_raw_json(
    fake: FakeDX, capsys: pytest.CaptureFixture[str]
) -> None:
    ident = "amber-falcon-00000"
    assert await amain(against(fake, "call", "catalog.entities.info", f"identifier={ident}")) == 0
    typed = json.loads(capsys.readouterr().out)
    assert typed["entity"]["identifier"] == ident
    assert "ok" not in typed  # the result class, not the envelope
    argv = against(fake, "call", "catalog.entities.list", "limit=2", "--raw")
    assert await amain(argv) == 0
    raw = json.loads(capsys.readouterr().out)
    assert raw["ok"] is True
    assert len(raw["entities"]) == 2
    assert fake.requests[-1].query["limit"] == "2"  # "2" was parsed as the JSON number 2


async def test_bad_argument_exits_2_naming_argument_and_method(
    fake: FakeDX, capsys: pytest.CaptureFixture[str]
) -> None:
    assert await amain(against(fake, "call", "catalog.entities.info", "bogus=1")) == 2
    err = capsys.readouterr().err
    assert "catalog.entities.info" in err
    assert "'bogus'" in err
    assert "'identifier'" in err
    assert fake.requests == []
    assert await amain(against(fake, "call", "catalog.entities.info", "nokeyvalue")) == 2
    assert await amain(against(fake, "call", "no.such.method")) == 2


async def test_refused_token_exits_3_naming_the_scope(
    fake: FakeDX, capsys: pytest.CaptureFixture[str]
) -> None:
    fake.add_token("narrow-token", scopes=["teams:read"])
    argv = ["--base-url", fake.url, "--token", "narrow-token", "--quiet"]
    assert await amain([*argv, "call", "catalog.entities.list"]) == 3
    assert "catalog:read" in capsys.readouterr().err


async def test_api_error_exits_1(fake: FakeDX, capsys: pytest.CaptureFixture[str]) -> None:
    argv = against(fake, "call", "catalog.entities.info", "identifier=missing")
    assert await amain(argv) == 1
    assert "not_found" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "variable"),
    [
        (["call", "catalog.entities.list"], "DX_API_TOKEN"),
        (["export", "catalog.entities.list", "--out", "x.jsonl"], "DX_API_TOKEN"),
        (["query", "SELECT 1"], "DX_API_TOKEN"),
        (["call", "customData.getAllByReference", "reference=r"], "DX_DATACLOUD_TOKEN"),
    ],
)
async def test_no_token_exits_3_naming_the_variable_and_writes_nothing(
    argv: list[str],
    variable: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for name in ("DX_API_TOKEN", "DX_DATACLOUD_TOKEN", "DX_FAKE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    assert await amain(argv) == 3
    captured = capsys.readouterr()
    assert f"${variable}" in captured.err
    assert "--fake" in captured.err
    assert "using the embedded fake" not in captured.err  # no fake server was started
    assert captured.out == ""
    assert names(tmp_path) == []


@pytest.mark.parametrize("how", ["--fake", "DX_FAKE=1"])
async def test_fake_on_request_says_so_on_stderr_and_in_the_checkpoint(
    how: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("DX_API_TOKEN", raising=False)
    flag = [how] if how.startswith("--") else []
    if not flag:
        monkeypatch.setenv("DX_FAKE", "1")
    out = tmp_path / "entities.jsonl"
    argv = [*flag, "--fake-entities", "30", "export", "catalog.entities.list", "--out", str(out)]
    assert await amain(argv) == 0
    captured = capsys.readouterr()
    assert "embedded fake" in captured.err
    assert "synthetic" in captured.err
    assert str(out.resolve()) in captured.out
    assert len(records(out)) == 30
    checkpoint = json.loads((tmp_path / "entities.jsonl.checkpoint.json").read_text())
    assert checkpoint["complete"] is True
    assert checkpoint["job"]["origin"]["fake"] is True
    assert checkpoint["records"] == 30


# --------------------------------------------------------------------------- export


async def test_export_jsonl_holds_every_item_as_returned(fake: FakeDX, tmp_path: Path) -> None:
    out = tmp_path / "entities.jsonl"
    assert await amain(against(fake, "export", "catalog.entities.list", "--out", str(out))) == 0
    expected = [
        json.dumps(e, sort_keys=True, separators=(",", ":")) for e in await all_entities(fake)
    ]
    assert records(out) == expected
    checkpoint = json.loads((tmp_path / "entities.jsonl.checkpoint.json").read_text())
    assert checkpoint["complete"] is True  # it stays, saying what the output holds
    assert checkpoint["job"]["origin"]["fake"] is False
    assert names(tmp_path) == [
        "entities.jsonl",
        "entities.jsonl.checkpoint.json",
    ]  # no lock file or temporary file left


async def test_export_csv(fake: FakeDX, tmp_path: Path) -> None:
    out = tmp_path / "entities.csv"
    argv = against(fake, "export", "catalog.entities.list", "limit=7", "--out", str(out))
    assert await amain(argv) == 0
    rows = list(csv.DictReader(out.read_text().splitlines()))
    entities = await all_entities(fake)
    assert [r["identifier"] for r in rows] == [e["identifier"] for e in entities]
    assert json.loads(rows[0]["owner_teams"]) == entities[0]["owner_teams"]


async def test_each_errors_become_records(
    fake: FakeDX, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fake.inject("catalog.entities.scorecards", status=404, times=3)
    out = tmp_path / "scorecards.jsonl"
    argv = against(fake, "export", "catalog.entities.list", *EACH, "--out", str(out))
    assert await amain(argv) == 4  # done, but not every item succeeded
    captured = capsys.readouterr()
    assert "3 of them failed items" in captured.out
    assert "3 items failed" in captured.err
    lines = [json.loads(line) for line in records(out)]
    assert len(lines) == 120
    failed = [r for r in lines if "error" in r]
    assert len(failed) == 3
    assert [r["error"]["status"] for r in failed] == [404] * 3, failed
    assert all(set(r) == {"args", "result"} for r in lines if "error" not in r)


async def test_each_arg_overrides_the_mapping(
    fake: FakeDX, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "info.jsonl"
    argv = against(
        fake, "export", "catalog.entities.list", "limit=50", "--each", "catalog.entities.info",
        "--each-arg", "identifier=identifier", "--out", str(out),
    )  # fmt: skip
    assert await amain(argv) == 0
    lines = [json.loads(line) for line in records(out)]
    assert {r["args"]["identifier"] for r in lines} == {
        r["result"]["entity"]["identifier"] for r in lines
    }
    bad = against(fake, "export", "catalog.entities.list", "--each", "teams.info", "--out",
                  str(tmp_path / "x.jsonl"))  # fmt: skip
    assert await amain(bad) == 2  # no entity field gives team_id or reference_id
    err = capsys.readouterr().err
    assert "teams.info" in err
    assert "--each-arg" in err


async def test_existing_checkpoint_needs_resume(
    fake: FakeDX, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "e.jsonl"
    (tmp_path / "e.jsonl.checkpoint.json").write_text("{}")
    assert await amain(against(fake, "export", "catalog.entities.list", "--out", str(out))) == 2
    assert "--resume" in capsys.readouterr().err
    argv = against(fake, "export", "catalog.entities.list", "--out", str(out), "--resume")
    assert await amain(argv) == 2  # a checkpoint of another export is refused, not trusted


async def test_each_fan_out_within_a_scaled_window_sees_no_429(tmp_path: Path) -> None:
    entities, window = (10_000, (1000, 6.0)) if SLOW else (200, (150, 0.5))
    async with FakeDX(entities=entities, rate_limit=window) as fake:
        out = tmp_path / "scorecards.jsonl"
        rate = f"{window[0]}/{window[1]}"
        argv = against(
            fake, "--rate-limit", rate, "export", "catalog.entities.list", "limit=100", *EACH,
            "--out", str(out),
        )  # fmt: skip
        assert await amain(argv) == 0
        assert fake.counters.refused_429 == 0
        assert fake.counters.max_in_window(window[1]) <= window[0]
    lines = [json.loads(line) for line in records(out)]
    assert len(lines) == entities
    assert len({r["args"]["identifier"] for r in lines}) == entities
    assert all("result" in r for r in lines)


# ------------------------------------------------------------ interrupt and resume


def _identifiers(lines: list[str]) -> set[str]:
    return {json.loads(line)["args"]["identifier"] for line in lines}


async def test_killed_export_resumes_to_the_same_records(tmp_path: Path) -> None:
    seed = random.randrange(1 << 30)
    rng = random.Random(seed)
    async with FakeDX(entities=240, rate_limit=(200, 1.0)) as fake:
        base = against(fake, "--rate-limit", "200/1", "export", "catalog.entities.list", *EACH)
        reference = tmp_path / "reference.jsonl"
        assert await amain([*base, "--out", str(reference)]) == 0
        out = tmp_path / "out.jsonl"
        command = [sys.executable, "-m", "dxapi.cli", *base, "--out", str(out)]
        kills = (signal.SIGINT, signal.SIGKILL, signal.SIGINT, signal.SIGKILL, None)
        for runs, sig in enumerate(kills):
            written = _identifiers(records(out))
            checkpoint = tmp_path / "out.jsonl.checkpoint.json"
            finished = checkpoint.exists() and json.loads(checkpoint.read_text())["complete"]
            # A torn write that resume must cut off; a kill may land after the export finished,
            # and a finished output that changed is refused (tests/test_checkpoint.py), not torn.
            if sig is signal.SIGINT and out.exists() and not finished:
                out.write_bytes(out.read_bytes() + b'{"args":{"identifier":"torn')
            mark = len(fake.requests)
            extra = ["--resume"] if runs else []
            proc = await anyio.open_process(
                [*command, *extra], stdout=subprocess.PIPE, stderr=subprocess.PIPE
            )
            async with proc:
                if sig is not None:
                    await anyio.sleep(rng.uniform(0.6, 1.4))
                    if proc.returncode is None:
                        proc.send_signal(sig)
                with anyio.fail_after(20):
                    code = await proc.wait()
                assert proc.stderr is not None
                err = b"".join([chunk async for chunk in proc.stderr]).decode()
            # 130: stopped cleanly; -SIGINT: interrupted before main() took over
            assert code in (0, 130, -signal.SIGINT, -signal.SIGKILL), (seed, code, err)
            if code == 130 and (tmp_path / "out.jsonl.checkpoint.json").exists():
                assert "--resume" in err  # says how to continue
            resent = {
                r.query.get("identifier")
                for r in fake.requests[mark:]
                if r.method == "catalog.entities.scorecards"
            }
            assert not resent & written, f"seed {seed}: re-sent requests already written"
            if code == 0:
                break
        assert json.loads((tmp_path / "out.jsonl.checkpoint.json").read_text())["complete"]
    got, want = records(out), records(reference)
    assert len(got) == len(want), seed
    assert sorted(got) == sorted(want), seed
    assert out.read_bytes().endswith(b"\n")


# ---------------------------------------------------------------------------- query


async def test_query_prints_rows_or_writes_the_full_csv(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    async with FakeDX(query_run_seconds=0.0) as fake:
        await _query(fake, tmp_path, capsys)


async def _query(fake: FakeDX, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert await amain(against(fake, "query", "SELECT id FROM t")) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert rows
    assert all(isinstance(r, dict) for r in rows)
    out = tmp_path / "rows.csv"
    assert await amain(against(fake, "query", "SELECT id FROM t", "--out", str(out))) == 0
    lines = out.read_text().splitlines()
    assert len(lines) == len(rows) + 1  # a header, then every row
    assert str(out.resolve()) in capsys.readouterr().out


async def test_each_refused_scope_stops_with_exit_3_and_leaves_nothing_behind(
    fake: FakeDX, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fake.add_token("catalog-only", scopes=["catalog:read"])
    out = tmp_path / "teams.jsonl"
    each = ["--each", "teams.info", "--each-arg", "team_id=owner_teams.0.id", "--out", str(out)]
    argv = ["--base-url", fake.url, "--token", "catalog-only", "--quiet", "export",
            "catalog.entities.list", *each]  # fmt: skip
    assert await amain(argv) == 3
    err = capsys.readouterr().err
    assert "lacks a scope" in err
    assert "snapshots:read" in err
    assert names(tmp_path) == []  # nothing that blocks the corrected command
    assert await amain(against(fake, "export", "catalog.entities.list", *each)) == 0
    assert len(records(out)) == 120


async def test_resume_of_a_finished_export_sends_nothing(
    fake: FakeDX, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Killed after the last record (here: before the CSV was made): resuming only finishes."""
    from dxapi._export import _job

    out = tmp_path / "scorecards.csv"
    argv = against(fake, "export", "catalog.entities.list", *EACH, "--out", str(out))

    def crash(source: Path, target: Path) -> int:
        raise OSError("simulated crash")

    with monkeypatch.context() as m:
        m.setattr(_job, "write_csv", crash)
        assert await amain(argv) == 1
    assert not out.exists()
    sent = len(fake.requests)
    assert await amain([*argv, "--resume"]) == 0
    assert len(fake.requests) == sent
    rows = out.read_text().splitlines()
    assert len(rows) == 121
    assert not (tmp_path / "scorecards.csv.part.jsonl").exists()
    assert await amain([*argv, "--resume"]) == 0  # complete: nothing to do, nothing sent
    assert len(fake.requests) == sent
    assert out.read_text().splitlines() == rows


async def test_cancelled_csv_export_resumes_to_the_same_rows(tmp_path: Path) -> None:
    async with FakeDX(entities=80, rate_limit=(100, 0.5)) as fake:
        base = against(fake, "--rate-limit", "100/0.5", "export", "catalog.entities.list", *EACH)
        reference = tmp_path / "reference.csv"
        assert await amain([*base, "--out", str(reference)]) == 0
        out = tmp_path / "out.csv"
        with anyio.move_on_after(0.4):  # like Ctrl-C: the export is cancelled mid-way
            await amain([*base, "--out", str(out)])
        assert (tmp_path / "out.csv.checkpoint.json").exists()
        assert not out.exists()  # the CSV appears only once every row is in
        work = tmp_path / "out.csv.part.jsonl"  # what the export appends to and resumes
        partial = work.read_bytes()
        assert 0 < partial.count(b"\n") < 81
        work.write_bytes(partial + b'{"args":{"identifier":"torn')  # and a torn last record
        assert await amain([*base, "--out", str(out), "--resume"]) == 0

    def rows(path: Path) -> list[tuple[str, ...]]:
        return [tuple(r) for r in csv.reader(path.read_text().splitlines(keepends=True))]

    got, want = rows(out), rows(reference)
    assert got[0] == want[0] == ("args", "result", "error")
    assert len(got) == len(want)
    assert sorted(got) == sorted(want)
    assert not work.exists()


async def test_serve_fake_runs_until_ctrl_c(capsys: pytest.CaptureFixture[str]) -> None:
    command = [sys.executable, "-m", "dxapi.cli", "serve-fake", "--fake-entities", "7"]
    async with await anyio.open_process(command, stdout=subprocess.PIPE) as proc:
        assert proc.stdout is not None
        text = ""
        with anyio.fail_after(10):
            while text.count("\n") < 2:
                text += (await proc.stdout.receive()).decode()
        env = dict(line.removeprefix("export ").split("=", 1) for line in text.splitlines())
        argv = ["--base-url", env["DX_BASE_URL"], "--token", env["DX_API_TOKEN"], "-q"]
        assert await amain([*argv, "call", "catalog.entities.list", "--raw"]) == 0
        assert len(json.loads(capsys.readouterr().out)["entities"]) == 7
        proc.send_signal(signal.SIGINT)
        with anyio.fail_after(10):
            assert await proc.wait() == 0


def test_csv_columns_are_the_union_of_every_records_keys(tmp_path: Path) -> None:
    from dxapi._export._records import write_csv

    source = tmp_path / "x.csv.part.jsonl"
    source.write_text('{"a":1,"b":"x"}\n{"a":2,"c":{"deep":true}}\n')
    assert write_csv(source, tmp_path / "x.csv") == 2
    rows = list(csv.reader((tmp_path / "x.csv").read_text().splitlines()))
    assert rows == [["a", "b", "c"], ["1", "x", ""], ["2", "", '{"deep":true}']]


async def test_sigterm_flushes_checkpoints_and_exits_143(tmp_path: Path) -> None:
    async with FakeDX(entities=120, rate_limit=None) as fake:
        base = against(fake, "--rate-limit", "20/0.2", "export", "catalog.entities.list", *EACH)
        reference = tmp_path / "reference.jsonl"
        assert await amain([*base, "--out", str(reference)]) == 0
        out = tmp_path / "out.jsonl"
        command = [sys.executable, "-m", "dxapi.cli", *base, "--out", str(out)]
        async with await anyio.open_process(command, stderr=subprocess.PIPE) as proc:
            await until(lambda: len(records(out)) >= 10)
            proc.send_signal(signal.SIGTERM)
            with anyio.fail_after(20):
                code = await proc.wait()
            assert proc.stderr is not None
            err = b"".join([chunk async for chunk in proc.stderr]).decode()
        assert code == 143, err
        assert "SIGTERM" in err
        assert "--resume" in err
        checkpoint = json.loads((tmp_path / "out.jsonl.checkpoint.json").read_text())
        assert checkpoint["offset"] == out.stat().st_size  # every record written is claimed
        assert checkpoint["records"] == len(records(out)) < 120
        assert not (tmp_path / "out.jsonl.lock").exists()
        mark = len(fake.requests)
        assert await amain([*base, "--out", str(out), "--resume"]) == 0
        again = {r.query.get("identifier") for r in fake.requests[mark:]}
        assert not again & _identifiers(records(out)[: checkpoint["records"]])
    assert sorted(records(out)) == sorted(records(reference))
