"""``dxapi export`` to Parquet (by the file's suffix) and to stdout (``--out - --format``)."""

from __future__ import annotations

import io
import json
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import anyio
import pyarrow.parquet as pq
import pytest

from dxapi.cli.__main__ import amain
from dxapi.testing import FakeDX

EACH = ["--each", "catalog.entities.scorecards", "--each-param", "limit=100"]


def against(fake: FakeDX, *argv: str) -> list[str]:
    return ["--base-url", fake.url, "--token", fake.token, "--quiet", *argv]


def names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


@pytest.fixture
async def fake() -> AsyncIterator[FakeDX]:
    async with FakeDX(entities=60) as server:
        yield server


async def identifiers(fake: FakeDX) -> list[str]:
    async with fake.client(rate_limit=None) as dx:
        return [e["identifier"] async for e in dx.paginate("catalog.entities.list")]


async def test_export_to_parquet_by_its_suffix_and_resume_of_the_finished_file(
    fake: FakeDX, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "entities.parquet"
    argv = against(fake, "export", "catalog.entities.list", "--out", str(out))
    assert await amain(argv) == 0
    assert f"wrote 60 records to {out}" in capsys.readouterr().out
    table = pq.read_table(out)
    assert table.column("identifier").to_pylist() == await identifiers(fake)
    assert str(table.schema.field("created_at").type) == "timestamp[us, tz=UTC]"
    assert names(tmp_path) == [
        "entities.parquet",
        "entities.parquet.checkpoint.json",
    ]
    sent = len(fake.requests)
    assert await amain([*argv, "--resume"]) == 0  # finished: checked by its row count
    assert len(fake.requests) == sent
    pq.write_table(table.slice(0, 10), out)  # changed since: the metadata says 10 rows
    assert await amain([*argv, "--resume"]) == 2
    assert "missing or changed" in capsys.readouterr().err


async def test_cancelled_parquet_fan_out_resumes_to_the_same_rows(tmp_path: Path) -> None:
    async with FakeDX(entities=80, rate_limit=(100, 0.5)) as fake:
        base = against(fake, "--rate-limit", "100/0.5", "export", "catalog.entities.list", *EACH)
        reference = tmp_path / "reference.parquet"
        assert await amain([*base, "--out", str(reference)]) == 0
        out = tmp_path / "out.parquet"
        with anyio.move_on_after(0.4):
            await amain([*base, "--out", str(out)])
        work = tmp_path / "out.parquet.part.jsonl"
        assert not out.exists() and 0 < work.read_bytes().count(b"\n") < 80
        assert await amain([*base, "--out", str(out), "--resume"]) == 0
    assert not work.exists()

    def rows(path: Path) -> list[str]:
        return sorted(
            json.dumps(r, sort_keys=True, default=str) for r in pq.read_table(path).to_pylist()
        )

    assert rows(out) == rows(reference)
    assert len(rows(out)) == 80


async def test_parquet_is_refused_before_any_request_without_pyarrow_or_a_schema(
    fake: FakeDX,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    out = tmp_path / "r.parquet"
    untyped = ["export", "initiatives.progressReport", "id=x", "--out", str(out)]
    assert await amain(against(fake, *untyped)) == 2
    assert "untyped JSON" in capsys.readouterr().err
    with monkeypatch.context() as m:
        m.setitem(sys.modules, "pyarrow", None)  # as if it were not installed
        assert (
            await amain(against(fake, "export", "catalog.entities.list", "--out", str(out))) == 2
        )
        assert "pip install 'dxapi[arrow]'" in capsys.readouterr().err
    assert fake.requests == []
    assert names(tmp_path) == []


async def test_out_dash_writes_jsonl_and_csv_to_stdout(
    fake: FakeDX,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    argv = against(fake, "export", "catalog.entities.list", "--out", "-")
    assert await amain([*argv, "--format", "jsonl"]) == 0
    captured = capsys.readouterr()
    lines = captured.out.splitlines()
    assert [json.loads(line)["identifier"] for line in lines] == await identifiers(fake)
    assert "wrote 60 records to stdout" in captured.err  # the summary stays off stdout
    assert await amain([*argv, "--format", "csv"]) == 0
    rows = capsys.readouterr().out.splitlines()
    assert rows[0].startswith("aliases,") and len(rows) == 61
    assert names(tmp_path) == []  # nothing left behind


async def test_out_dash_parquet_is_a_parquet_file_on_stdout(
    fake: FakeDX, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    argv = against(fake, "export", "catalog.entities.list", "--out", "-", "--format", "parquet")
    assert await amain(argv) == 0
    table = pq.read_table(io.BytesIO(capsysbinary.readouterr().out))
    assert table.num_rows == 60


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--out", "-"], "--out - needs --format"),
        (["--out", "-", "--format", "csv", "--resume"], "--resume needs --out FILE"),
        (["--out", "e.jsonl", "--format", "csv"], "name the file .csv"),
        (["--out", "e.txt"], ".jsonl, .csv or .parquet"),
    ],
)
async def test_out_and_format_mistakes_exit_2(
    fake: FakeDX, args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert await amain(against(fake, "export", "catalog.entities.list", *args)) == 2
    assert message in capsys.readouterr().err
    assert fake.requests == []


def test_count_records_of_each_format(tmp_path: Path) -> None:
    from dxapi._arrow import write_parquet
    from dxapi._export._records import count_records, write_csv
    from dxapi.types import Entity

    jsonl = tmp_path / "e.jsonl"
    records = [{"identifier": "a", "name": "two\nlines"}, {"identifier": "b"}]
    jsonl.write_text("".join(json.dumps(r) + "\n" for r in records))
    write_csv(jsonl, tmp_path / "e.csv")
    write_parquet(records, tmp_path / "e.parquet", Entity)
    assert [count_records(tmp_path / f"e.{x}") for x in ("jsonl", "csv", "parquet")] == [2, 2, 2]
