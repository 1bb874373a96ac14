"""A checkpoint names what it belongs to; ``--resume`` refuses anything else, and one export
at a time holds the output's lock."""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from dxapi import ArgumentError
from dxapi._export._checkpoint import fingerprint, lock_output, origin
from dxapi.cli.__main__ import amain
from dxapi.testing import FakeDX

LIST = ["export", "catalog.entities.list", "limit=10"]


def against(fake: FakeDX, *argv: str, token: str | None = None) -> list[str]:
    return ["--base-url", fake.url, "--token", token or fake.token, "--quiet", *argv]


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


@pytest.fixture
async def fake() -> AsyncIterator[FakeDX]:
    async with FakeDX(entities=40, rate_limit=None) as server:
        yield server


async def partial(fake: FakeDX, out: Path, *extra: str) -> dict[str, bytes]:
    """An export stopped by an error after its first page: 10 records and a checkpoint."""
    async with fake.client(rate_limit=None) as dx:
        page = await dx.call("catalog.entities.list", limit=10)
    fake.inject("catalog.entities.list", body=page)
    fake.inject("catalog.entities.list", status=400)
    assert await amain(against(fake, *LIST, *extra, "--out", str(out))) == 1
    fake.reset()
    files = snapshot(out.parent)
    assert sorted(files) == [out.name, out.name + ".checkpoint.json"]
    assert files[out.name].count(b"\n") == 10
    return files


async def refused(argv: list[str], capsys: pytest.CaptureFixture[str], *said: str) -> str:
    assert await amain(argv) == 2
    err = capsys.readouterr().err
    for text in said:
        assert text in err
    return err


async def test_resume_on_another_server_is_refused(
    fake: FakeDX, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "e.jsonl"
    before = await partial(fake, out)
    async with FakeDX(entities=40, rate_limit=None) as other:  # same seed: same token
        assert other.token == fake.token
        argv = against(other, *LIST, "--out", str(out), "--resume")
        await refused(argv, capsys, "another server", fake.url, "without --resume")
        assert other.requests == []
    assert snapshot(tmp_path) == before


async def test_resume_with_another_token_is_refused_without_showing_either(
    fake: FakeDX, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "e.jsonl"
    before = await partial(fake, out)
    fake.add_token("dx-other-token-77")
    argv = against(fake, *LIST, "--out", str(out), "--resume", token="dx-other-token-77")
    err = await refused(argv, capsys, "another token", "without --resume")
    assert fake.token not in err
    assert "dx-other-token-77" not in err
    assert fake.requests == []
    assert snapshot(tmp_path) == before
    checkpoint = before["e.jsonl.checkpoint.json"].decode()
    assert fake.token not in checkpoint
    assert fingerprint(fake.token) in checkpoint


@pytest.mark.parametrize(
    "other",
    [
        ["export", "catalog.entities.list", "limit=20"],
        ["export", "catalog.entities.list", "limit=10", "type=service"],
        ["export", "catalog.entities.list", "limit=10", "--each", "catalog.entities.info"],
        ["export", "scorecards.list"],
    ],
)
async def test_resume_of_another_command_is_refused(
    other: list[str], fake: FakeDX, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "e.jsonl"
    before = await partial(fake, out)
    argv = against(fake, *other, "--out", str(out), "--resume")
    await refused(argv, capsys, "belongs to another export", "without --resume")
    assert fake.requests == []
    assert snapshot(tmp_path) == before


async def test_resume_of_another_commands_finished_output_is_refused(
    fake: FakeDX, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "e.jsonl"
    assert await amain(against(fake, *LIST, "--out", str(out))) == 0
    before = snapshot(tmp_path)
    argv = against(fake, "export", "scorecards.list", "--out", str(out), "--resume")
    await refused(argv, capsys, "belongs to another export", "method")
    assert snapshot(tmp_path) == before
    assert await amain(against(fake, *LIST, "--out", str(out), "--resume")) == 0  # its own: done


async def test_resume_of_an_unrelated_file_is_refused(
    fake: FakeDX, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "e.jsonl"
    out.write_text('{"not":"an export"}\n')
    argv = against(fake, *LIST, "--out", str(out), "--resume")
    await refused(argv, capsys, "has no checkpoint", "without --resume")
    for garbage in ("{}", "[1, 2]", "not json", json.dumps({"version": 1, "job": {}})):
        (tmp_path / "e.jsonl.checkpoint.json").write_text(garbage)
        await refused(argv, capsys, "e.jsonl.checkpoint.json", "without --resume")
    assert fake.requests == []
    assert out.read_text() == '{"not":"an export"}\n'
    (tmp_path / "e.jsonl.checkpoint.json").unlink()
    assert await amain(against(fake, *LIST, "--out", str(out))) == 0  # starting afresh works
    assert len(out.read_text().splitlines()) == 40


async def test_fake_records_are_never_resumed_with_a_real_token(
    fake: FakeDX,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.delenv("DX_API_TOKEN", raising=False)
    out = tmp_path / "e.jsonl"
    argv = ["--fake", "--fake-entities", "40", "--quiet", *LIST, "--out", str(out)]
    assert await amain(argv) == 0
    before = snapshot(tmp_path)
    real = against(fake, *LIST, "--out", str(out), "--resume")
    await refused(real, capsys, "embedded fake", "without --resume")
    assert snapshot(tmp_path) == before
    assert await amain([*argv, "--resume"]) == 0  # the fake again: its own output, complete


async def test_a_held_lock_refuses_a_second_export_at_once(
    fake: FakeDX, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "e.jsonl"
    before = await partial(fake, out)
    with lock_output(out, "catalog.entities.list"):
        argv = against(fake, *LIST, "--out", str(out), "--resume")
        await refused(argv, capsys, "being written by another export", f"pid {os.getpid()}")
        with pytest.raises(ArgumentError, match="another export"), lock_output(out, "x"):
            pass
    assert fake.requests == []
    assert snapshot(tmp_path) == before  # and the lock file went with the lock
    assert await amain(against(fake, *LIST, "--out", str(out), "--resume")) == 0
    assert len(out.read_text().splitlines()) == 40


async def test_a_stale_lock_file_blocks_nothing(fake: FakeDX, tmp_path: Path) -> None:
    out = tmp_path / "e.jsonl"
    (tmp_path / "e.jsonl.lock").write_text("12345")  # left by a process killed with -9
    assert await amain(against(fake, *LIST, "--out", str(out))) == 0
    assert sorted(snapshot(tmp_path)) == ["e.jsonl", "e.jsonl.checkpoint.json"]


async def test_a_failure_before_the_first_record_leaves_nothing_behind(
    fake: FakeDX, tmp_path: Path
) -> None:
    out = tmp_path / "e.jsonl"
    fake.inject("catalog.entities.list", status=400)
    assert await amain(against(fake, *LIST, "--out", str(out))) == 1
    assert snapshot(tmp_path) == {}
    assert await amain(against(fake, *LIST, "limit=5", "--out", str(out))) == 0  # corrected
    assert len(out.read_text().splitlines()) == 40


def test_origin_holds_a_fingerprint_never_the_token() -> None:
    token = "dx-secret-token-abc123"
    record: dict[str, Any] = origin("https://api.getdx.com/", token)
    assert record == {
        "base_url": "https://api.getdx.com",
        "account": fingerprint(token),
        "fake": False,
    }
    assert token not in json.dumps(record)
    assert len(fingerprint(token)) == 16
    assert fingerprint(token) != fingerprint(token + "x")
    assert fingerprint(token) == fingerprint(token)  # stable across runs


async def test_a_kill_while_the_output_is_emptied_resumes_from_scratch(
    fake: FakeDX, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Between the first checkpoint and the emptied output, an older export's records remain."""
    from dxapi._export import _runs

    out = tmp_path / "e.jsonl"
    argv = against(fake, *LIST, "--out", str(out))
    assert await amain(argv) == 0
    finished = out.read_bytes()

    def crash(*args: Any, **kwargs: Any) -> Any:
        raise OSError("simulated crash")

    with monkeypatch.context() as m:
        m.setattr(_runs, "open_sink", crash)
        assert await amain(argv) == 1
    assert out.read_bytes() == finished  # not emptied yet …
    checkpoint = json.loads((tmp_path / "e.jsonl.checkpoint.json").read_text())
    assert (checkpoint["truncate"], checkpoint["complete"]) == (True, False)  # … and it says so
    assert await amain([*argv, "--resume"]) == 0
    assert sorted(out.read_bytes().splitlines()) == sorted(finished.splitlines())  # not twice
