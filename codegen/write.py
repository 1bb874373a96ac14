"""Write the generated files (formatted with ruff), or compare them with what is committed."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path

__all__ = ["FormatterMissing", "check", "formatted", "write"]


def formatted(files: Mapping[str, str]) -> dict[str, str]:
    """Run ``ruff format`` (and import sorting) over the rendered files; deterministic.

    Raises :class:`FormatterMissing` when ruff is not installed: unformatted output would
    look like drift (or be committed as such).
    """
    if importlib.util.find_spec("ruff") is None:
        raise FormatterMissing(
            "codegen formats its output with ruff, which is not installed here: "
            "pip install -e '.[codegen]'"
        )
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for rel, text in files.items():
            path = root / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        ruff = [sys.executable, "-m", "ruff"]
        config = [
            *("--config", "line-length=99"),
            *("--config", "target-version='py311'"),
            *("--config", "lint.isort.known-first-party=['dxapi']"),
        ]
        for cmd in (
            [*ruff, "check", "--select", "I,F401", "--fix", "--quiet", "--no-cache", *config],
            [*ruff, "format", "--quiet", "--no-cache", *config],
        ):
            done = subprocess.run([*cmd, str(root)], capture_output=True, text=True)
            if done.returncode not in (0, 1):
                raise RuntimeError(f"ruff failed: {done.stderr or done.stdout}")
        return {rel: (root / rel).read_text(encoding="utf-8") for rel in files}


class FormatterMissing(RuntimeError):
    """ruff (the formatter codegen depends on) is not installed."""


def _existing(out: Path) -> set[str]:
    if not out.exists():
        return set()
    return {p.relative_to(out).as_posix() for p in out.rglob("*.py")} | {
        p.relative_to(out).as_posix() for p in out.rglob("*.md")
    }


def write(files: Mapping[str, str], out: Path) -> list[str]:
    """Make ``out`` hold exactly ``files``; return the paths that changed."""
    changed = []
    for rel in sorted(_existing(out) - set(files)):
        (out / rel).unlink()
        changed.append(rel)
    for rel, text in sorted(files.items()):
        path = out / rel
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            changed.append(rel)
    for cache in out.rglob("__pycache__"):
        if not any(cache.parent.glob("*.py")):
            shutil.rmtree(cache)
    for d in sorted((p for p in out.rglob("*") if p.is_dir()), reverse=True):
        if not any(d.iterdir()):
            d.rmdir()
    return changed


def check(files: Mapping[str, str], out: Path) -> list[str]:
    """The paths under ``out`` that differ from ``files`` (missing, stale or extra)."""
    drift = sorted(_existing(out) - set(files))
    for rel, text in sorted(files.items()):
        path = out / rel
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            drift.append(rel)
    return sorted(drift)
