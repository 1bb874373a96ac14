"""Wire names as Python names: one rule for codegen and the runtime."""

from __future__ import annotations

import pytest

from dxapi._naming import py_name, snake


@pytest.mark.parametrize(
    ("wire", "python"),
    [
        ("queryRuns", "query_runs"),
        ("findByGithubUsername", "find_by_github_username"),
        ("teamId", "team_id"),
        ("HTTPServer", "http_server"),
        ("page-size", "page_size"),
        ("from", "from_"),
        ("identifier", "identifier"),
    ],
)
def test_wire_names_become_python_names(wire: str, python: str) -> None:
    assert py_name(wire) == python


def test_snake_leaves_keywords_alone() -> None:
    assert snake("from") == "from"
