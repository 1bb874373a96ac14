"""Wire names as Python names (``teamId`` → ``team_id``, ``from`` → ``from_``): one rule,
shared by codegen (which writes the signatures) and the runtime (which maps keywords back)."""

from __future__ import annotations

import keyword
import re

__all__ = ["py_name", "snake"]

_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")


def snake(name: str) -> str:
    """``queryRuns`` → ``query_runs``, ``findByGithubUsername`` → ``find_by_github_username``."""
    return _BOUNDARY.sub("_", name).replace("-", "_").lower()


def py_name(name: str) -> str:
    """A wire name as a Python identifier: snake_case, keywords get a trailing underscore."""
    out = snake(name)
    return out + "_" if keyword.iskeyword(out) else out
