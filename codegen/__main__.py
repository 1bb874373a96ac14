"""``python -m codegen`` writes dxapi/_generated/; ``--check`` fails on drift."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .diff import run_diff
from .docs import DOCS_PATH, render_docs
from .docs_peers import render_peer_docs
from .load import load_files
from .model import RegistryError
from .render import render
from .render_sync import render_sync
from .validate import build
from .write import FormatterMissing, check, formatted, write

ROOT = Path(__file__).resolve().parent.parent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m codegen", description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail if generated files drifted")
    parser.add_argument("--registry", type=Path, default=ROOT / "registry")
    parser.add_argument("--out", type=Path, default=ROOT / "dxapi" / "_generated")
    parser.add_argument(
        "--docs",
        type=Path,
        help=f"methods.md to write (default: {DOCS_PATH} for the project's own registry only)",
    )
    parser.add_argument(
        "--diff",
        metavar="REV",
        help="compare the registry at a git revision (or another registry folder) with "
        "today's; exit 1 when a change breaks callers",
    )
    opts = parser.parse_args(argv)
    if opts.diff is not None:
        return run_diff(opts.diff, opts.registry)
    if opts.docs is None and opts.registry.resolve() == (ROOT / "registry").resolve():
        opts.docs = ROOT / DOCS_PATH  # another registry (a test fixture) writes no docs unasked
    try:
        registry = build(load_files(opts.registry))
    except RegistryError as exc:
        print(exc, file=sys.stderr)
        return 2
    try:
        files = formatted({**render(registry), **render_sync(registry.dx())})
        texts = {"methods.md": render_docs(registry)}
        if registry.dialects:
            texts["peers.md"] = render_peer_docs(registry)
        texts = formatted(texts)  # their code blocks
    except FormatterMissing as exc:
        print(exc, file=sys.stderr)
        return 2
    # methods.md where asked; peers.md (the REST APIs) beside it.
    pages = {}
    if opts.docs:
        pages = {opts.docs: texts["methods.md"]}
        if "peers.md" in texts:
            pages[opts.docs.with_name("peers.md")] = texts["peers.md"]
    stale = [path for path, text in pages.items() if _differs(path, text)]
    if opts.check:
        drift = check(files, opts.out)
        for rel in drift:
            print(f"drift: {opts.out.name}/{rel} differs from the registry", file=sys.stderr)
        for path in stale:
            print(f"drift: {path.name} differs from the registry", file=sys.stderr)
            drift.append(str(path))
        if drift:
            print("run: python -m codegen", file=sys.stderr)
            return 1
        print(f"ok: {len(files)} generated files match the registry")
        return 0
    changed = write(files, opts.out)
    for path in stale:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(pages[path], encoding="utf-8")
        changed.append(str(path))
    print(f"wrote {len(changed)} changed file(s) of {len(files) + len(pages)}")
    return 0


def _differs(path: Path, text: str) -> bool:
    return not path.exists() or path.read_text("utf-8") != text


if __name__ == "__main__":
    sys.exit(main())
