"""The checkpoint of an export: how far it got, replaced atomically (temp file + rename)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import attrs

from ._errors import ArgumentError

__all__ = ["CHECKPOINT_VERSION", "Checkpoint", "checkpoint_path", "fsync_dir"]

CHECKPOINT_VERSION = 1


def checkpoint_path(out: Path) -> Path:
    """Where the checkpoint of an export to ``out`` lives: ``FILE.checkpoint.json``."""
    return out.with_name(out.name + ".checkpoint.json")


@attrs.define
class Checkpoint:
    """How far an export got. Everything it claims is durable in the output file."""

    #: The export it belongs to (method, arguments, --each, format).
    job: dict[str, Any]
    #: The list position of the first page not fully written (None: the first page).
    position: Any = None
    #: Bytes of the output the claimed records fill, and how many records they are.
    offset: int = 0
    records: int = 0
    #: --each inputs (canonical JSON of their arguments) written from ``position`` on.
    done: list[str] = attrs.field(factory=list)
    #: Every record is written (only the checkpoint's removal was left to do).
    complete: bool = False

    def save(self, path: Path) -> None:
        """Write to a temporary file, fsync, rename over the old checkpoint, fsync the dir."""
        data = attrs.asdict(self)
        data["version"] = CHECKPOINT_VERSION
        tmp = path.with_name(path.name + ".tmp")
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(data, f, sort_keys=True, separators=(",", ":"), default=str)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        fsync_dir(path.parent)

    @classmethod
    def load(cls, path: Path, method: str, identity: dict[str, Any]) -> Checkpoint:
        """Read a checkpoint; refuse one written by another export (ArgumentError)."""
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ArgumentError(method, [f"cannot read checkpoint {path}: {exc}"]) from None
        if data.get("version") != CHECKPOINT_VERSION or data.get("job") != identity:
            raise ArgumentError(
                method,
                [
                    f"checkpoint {path} belongs to another export "
                    f"({json.dumps(data.get('job'), sort_keys=True)}); "
                    "rerun that command with --resume, or delete the checkpoint"
                ],
            )
        data.pop("version")
        return cls(**data)


def fsync_dir(path: Path) -> None:
    """Make a rename or unlink in ``path`` durable (best effort where unsupported)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
