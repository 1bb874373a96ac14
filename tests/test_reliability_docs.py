"""docs/reliability.md names the tests behind each claim: every one it names must exist."""

from __future__ import annotations

import ast
import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "reliability.md"


def test_every_test_the_reliability_page_names_exists() -> None:
    named = re.findall(r"(tests/[\w/]+\.py)::(\w+)", DOC.read_text(encoding="utf-8"))
    assert len(named) >= 20
    missing = []
    for path, name in named:
        source = ROOT / path
        tree = ast.parse(source.read_text(encoding="utf-8")) if source.exists() else None
        defined = {
            node.name
            for node in ast.walk(tree or ast.Module(body=[], type_ignores=[]))
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        }
        if name not in defined:
            missing.append(f"{path}::{name}")
    assert missing == [], f"docs/reliability.md names tests that do not exist: {missing}"
