"""The checkpoint of an export (replaced atomically: temp file + rename) and its lock.

A checkpoint names what it belongs to (:func:`origin` and the job's identity: command,
arguments, server, a fingerprint of the token, whether the data came from the fake) and
outlives the export, marked complete, so the output can always be told apart from a file some
other command wrote. One export at a time holds ``FILE.lock`` (``flock``) for the output.
"""

from __future__ import annotations

import fcntl
import hashlib
import hmac
import json
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import attrs

from .._errors import ArgumentError

__all__ = [
    "CHECKPOINT_VERSION",
    "Checkpoint",
    "checkpoint_path",
    "fingerprint",
    "fsync_dir",
    "lock_output",
    "origin",
]

CHECKPOINT_VERSION = 2
_FINGERPRINT_KEY = b"dxapi checkpoint account fingerprint"


def checkpoint_path(out: Path) -> Path:
    """Where the checkpoint of an export to ``out`` lives: ``FILE.checkpoint.json``."""
    return out.with_name(out.name + ".checkpoint.json")


def fingerprint(token: str) -> str:
    """A short keyed hash naming the token's account; the token cannot be read back from it."""
    digest = hmac.new(_FINGERPRINT_KEY, token.encode("utf-8", "surrogatepass"), hashlib.sha256)
    return digest.hexdigest()[:16]


def origin(base_url: str, token: str, *, fake: bool = False) -> dict[str, Any]:
    """Where an export's records come from, as its checkpoint records it (never the token)."""
    return {"base_url": base_url.rstrip("/"), "account": fingerprint(token), "fake": fake}


@attrs.define
class Checkpoint:
    """How far an export got. Everything it claims is durable in the output file."""

    #: The export it belongs to (method, arguments, --each, format, origin).
    job: dict[str, Any]
    #: The list position of the first page not fully written (None: the first page).
    position: Any = None
    #: Bytes of the output the claimed records fill, and how many records they are.
    offset: int = 0
    records: int = 0
    #: --each inputs (canonical JSON of their arguments) written from ``position`` on.
    done: list[str] = attrs.field(factory=list)
    #: Every record is written: the checkpoint now only says what the output holds.
    complete: bool = False
    #: --each records that are errors.
    errors: int = 0
    #: The output is being emptied for this export: what it holds is not this export's yet.
    truncate: bool = False

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
    def load(cls, path: Path, method: str, identity: Mapping[str, Any]) -> Checkpoint:
        """Read a checkpoint; refuse one written by another export (ArgumentError)."""
        out = path.name.removesuffix(".checkpoint.json")
        afresh = f"run the command without --resume to start afresh (it replaces {out})"
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if not isinstance(data, dict):
                raise ValueError("not a JSON object")
        except (OSError, ValueError) as exc:
            problem = f"cannot read checkpoint {path}: {exc}; {afresh}"
            raise ArgumentError(method, [problem]) from None
        if data.get("version") != CHECKPOINT_VERSION or not isinstance(data.get("job"), dict):
            raise ArgumentError(method, [f"{path} is not a checkpoint of this dxapi; {afresh}"])
        differences = describe_differences(data["job"], identity)
        if differences:
            raise ArgumentError(
                method,
                [f"{path} belongs to another export ({'; '.join(differences)}); {afresh}"],
            )
        data.pop("version")
        known = {f.name for f in attrs.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


def describe_differences(saved: Mapping[str, Any], wanted: Mapping[str, Any]) -> list[str]:
    """What differs between a checkpoint's identity and this export's, in words."""
    out: list[str] = []
    saved_origin, wanted_origin = saved.get("origin") or {}, wanted.get("origin") or {}
    if saved_origin.get("fake") != wanted_origin.get("fake"):
        which = "the embedded fake" if saved_origin.get("fake") else "a real server"
        out.append(f"it was written from {which}")
    elif saved_origin.get("base_url") != wanted_origin.get("base_url"):
        out.append(f"it was written from another server ({saved_origin.get('base_url')})")
    elif saved_origin.get("account") != wanted_origin.get("account"):
        out.append("it was written with another token (account fingerprints differ)")
    for key in sorted(set(saved) | set(wanted)):
        if key != "origin" and saved.get(key) != wanted.get(key):
            out.append(f"it has {key} {json.dumps(saved.get(key), sort_keys=True)}")
    return out


def lock_path(out: Path) -> Path:
    return out.with_name(out.name + ".lock")


@contextmanager
def lock_output(out: Path, method: str) -> Iterator[None]:
    """Hold ``FILE.lock`` for the export to ``out``; refuse at once if another export holds it.

    The lock dies with its process (``kill -9`` included), so a stale file blocks nothing; it
    is removed while still held, and a lock taken on a file removed meanwhile is taken again.
    """
    path = lock_path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
            os.close(fd)
            raise ArgumentError(
                method,
                [
                    f"{out} is being written by another export (pid {holder}); "
                    "wait for it to finish, or stop it and run again with --resume"
                ],
            ) from None
        try:
            same = os.stat(path).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)  # removed by the export that held it: lock the new file instead
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        yield
    finally:
        path.unlink(missing_ok=True)
        os.close(fd)


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
