"""Recorded answers: one ``{method, args, answer}`` object per line (JSONL)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import attrs

__all__ = ["Record", "read_records", "write_records"]


@attrs.frozen
class Record:
    """One call and what DX answered (``answer`` is the payload as sent, ``ok`` included)."""

    method: str
    args: dict[str, Any] = attrs.field(factory=dict)
    answer: dict[str, Any] | None = None
    #: Why there is no answer (an error code, or why the method was not called).
    error: str | None = None


def read_records(path: str | Path) -> list[Record]:
    """The records of a JSONL file; a line that is not one raises ValueError naming it."""
    return list(_parse(Path(path)))


def _parse(path: Path) -> Iterator[Record]:
    with path.open(encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            where = f"{path}:{number}"
            try:
                item = json.loads(line)
            except ValueError as exc:
                raise ValueError(f"{where}: not JSON ({exc})") from None
            if not isinstance(item, dict) or not isinstance(item.get("method"), str):
                raise ValueError(f"{where}: expected an object with 'method', 'args', 'answer'")
            answer, args = item.get("answer"), item.get("args") or {}
            if not isinstance(answer, dict) or not isinstance(args, dict):
                raise ValueError(f"{where}: 'answer' and 'args' must be JSON objects")
            yield Record(item["method"], args, answer)


def write_records(path: str | Path, records: Iterable[Record]) -> int:
    """Write the records that hold an answer; returns how many."""
    count = 0
    with Path(path).open("w", encoding="utf-8") as f:
        for r in records:
            if r.answer is not None:
                line = {"method": r.method, "args": r.args, "answer": r.answer}
                f.write(json.dumps(line, ensure_ascii=False, default=str) + "\n")
                count += 1
    return count
