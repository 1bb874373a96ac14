"""``python -m codegen`` writes dxapi/_generated/; ``--check`` fails on drift."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .load import load_files
from .model import RegistryError, build
from .render import render
from .write import check, formatted, write

ROOT = Path(__file__).resolve().parent.parent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m codegen", description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail if generated files drifted")
    parser.add_argument("--registry", type=Path, default=ROOT / "registry")
    parser.add_argument("--out", type=Path, default=ROOT / "dxapi" / "_generated")
    opts = parser.parse_args(argv)
    try:
        registry = build(load_files(opts.registry))
    except RegistryError as exc:
        print(exc, file=sys.stderr)
        return 2
    files = formatted(render(registry))
    if opts.check:
        drift = check(files, opts.out)
        for rel in drift:
            print(f"drift: {opts.out.name}/{rel} differs from the registry", file=sys.stderr)
        if drift:
            print("run: python -m codegen", file=sys.stderr)
            return 1
        print(f"ok: {len(files)} generated files match the registry")
        return 0
    changed = write(files, opts.out)
    print(f"wrote {len(changed)} changed file(s) of {len(files)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
