"""Record files of an export: an append-only ``.jsonl`` sink, and the final ``.csv`` or
``.parquet`` view (Parquet through :mod:`dxapi._arrow`, which needs pyarrow).

A :class:`Sink` appends whole records and reports, after ``sync()`` (flush + fsync), how many
bytes of the file are durable. :func:`open_sink` reopens a file at a claimed offset: it cuts
off a partial last record and hands back the complete records found past the offset, so an
export can count them as done instead of fetching them again.

A CSV or Parquet export is written as JSONL while it runs (that file is what resumes) and
turned into its format once every record is in: CSV columns are then the union of every
record's keys, so a key that first appears late is never dropped.

Output is always writable: a lone surrogate (``"\\udcff"`` in an answer, which UTF-8 cannot
carry) stays a JSON escape in JSON text (:func:`dumps`, :func:`json_text`), so reading the
line back gives the same string; in a CSV text cell it is written as the same six characters.
A CSV cell that a spreadsheet would run as a formula (starting with ``=``, ``+``, ``-``, ``@``,
a tab or a carriage return, and not a plain number) is prefixed with ``'`` (OWASP's advice).
"""

from __future__ import annotations

import csv
import json
import os
import re
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

__all__ = [
    "Sink",
    "count_records",
    "csv_cell",
    "dumps",
    "format_for",
    "json_text",
    "open_sink",
    "work_path",
    "write_csv",
]

Format = Literal["jsonl", "csv", "parquet"]
EXTENSIONS: dict[str, Format] = {
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".csv": "csv",
    ".parquet": "parquet",
}
_FAN_OUT_COLUMNS = ["args", "result", "error"]
_SURROGATE = re.compile("[\ud800-\udfff]")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?")


def format_for(path: Path) -> Format:
    fmt = EXTENSIONS.get(path.suffix.lower())
    if fmt is None:
        raise ValueError(
            f"cannot tell the format of {path.name!r}: name the output .jsonl, .csv or .parquet"
        )
    return fmt


def work_path(out: Path) -> Path:
    """The JSONL file an export appends to: ``out`` itself, or ``FILE.csv.part.jsonl``
    (``FILE.parquet.part.jsonl``)."""
    return out if format_for(out) == "jsonl" else out.with_name(out.name + ".part.jsonl")


def dumps(value: Any) -> str:
    """Compact JSON with sorted keys: the same data always gives the same text."""
    return json_text(value, separators=(",", ":"))


def json_text(value: Any, **options: Any) -> str:
    """``json.dumps`` (keys sorted, non-ASCII kept) whose text UTF-8 can always encode.

    Lone surrogates, which only occur inside JSON strings, are kept as ``\\uXXXX`` escapes.
    """
    text = json.dumps(value, sort_keys=True, ensure_ascii=False, **options)
    return _SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


class Sink:
    """Appends JSONL records to one file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file = open(path, "ab")  # noqa: SIM115 - closed by close()

    def write(self, record: Mapping[str, Any]) -> None:
        self._file.write((dumps(record) + "\n").encode())

    def sync(self) -> int:
        """Make everything written durable; returns the file's length."""
        self._file.flush()
        os.fsync(self._file.fileno())
        return self._file.tell()

    def close(self) -> None:
        if not self._file.closed:
            self.sync()
            self._file.close()


def open_sink(path: Path, *, offset: int, fresh: bool) -> tuple[Sink, list[dict[str, Any]]]:
    """Open ``path`` for appending at ``offset`` claimed durable by a checkpoint.

    Returns the sink and the complete records found past the offset (their bytes stay);
    a partial record at the end is cut off. ``fresh`` starts an empty file.
    """
    if fresh or not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "wb") as f:
            os.fsync(f.fileno())
        return Sink(path), []
    with open(path, "r+b") as f:
        size = f.seek(0, os.SEEK_END)
        if size < offset:
            raise ValueError(
                f"{path} is shorter ({size} bytes) than its checkpoint claims ({offset}); "
                "it was changed since: delete the checkpoint and export again"
            )
        f.seek(offset)
        tail = f.read()
        complete = tail.rfind(b"\n") + 1
        if complete < len(tail):
            f.truncate(offset + complete)
            f.flush()
            os.fsync(f.fileno())
    records = [json.loads(line) for line in tail[:complete].decode().splitlines() if line]
    return Sink(path), records


def write_csv(source: Path, out: Path) -> int:
    """Turn a finished JSONL file into ``out`` (atomically); returns the rows written.

    Fan-out records keep their three columns (args, result, error as JSON text); plain
    records get one column per key seen in any record, sorted. Two passes, constant memory.
    """
    keys: set[str] = set()
    with open(source, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                keys.update(json.loads(line))
    columns = _FAN_OUT_COLUMNS if keys and keys <= set(_FAN_OUT_COLUMNS) else sorted(keys)
    tmp = out.with_name(out.name + ".tmp")
    rows = 0
    with (
        open(source, encoding="utf-8") as f,
        open(tmp, "w", newline="", encoding="utf-8", errors="backslashreplace") as w,
    ):
        writer = csv.writer(w, lineterminator="\n")
        writer.writerow(csv_cell(c) for c in columns)
        for line in f:
            if line.strip():
                record = json.loads(line)
                writer.writerow(csv_cell(record.get(c)) for c in columns)
                rows += 1
        w.flush()
        os.fsync(w.fileno())
    os.replace(tmp, out)
    return rows


def count_records(path: Path) -> int:
    """The records a finished output holds: JSONL lines, CSV rows (header excluded), or a
    Parquet file's row count from its metadata (nothing else is read)."""
    fmt = format_for(path)
    if fmt == "parquet":
        import pyarrow.parquet as pq

        return int(pq.ParquetFile(path).metadata.num_rows)
    with open(path, encoding="utf-8", newline="") as f:
        if fmt == "jsonl":
            return sum(1 for line in f if line.strip())
        csv.field_size_limit(sys.maxsize)  # a nested value is one (long) JSON cell
        return max(0, sum(1 for _ in csv.reader(f)) - 1)


def csv_cell(value: Any) -> str:
    """A value as CSV text: nested values as JSON, formula-like text defused with ``'``."""
    if value is None:
        return ""
    text = value if isinstance(value, str) else dumps(value)
    if text.startswith(_FORMULA_START) and not _NUMBER.fullmatch(text):
        return "'" + text
    return text
