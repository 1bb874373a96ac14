"""The only place wire names become Python names."""

from __future__ import annotations

import keyword
import re

__all__ = ["class_name", "constant_name", "py_name", "snake"]

_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")


def snake(name: str) -> str:
    """``queryRuns`` → ``query_runs``, ``findByGithubUsername`` → ``find_by_github_username``."""
    return _BOUNDARY.sub("_", name).replace("-", "_").lower()


def py_name(name: str) -> str:
    """A wire name as a Python identifier: snake_case, keywords get a trailing underscore."""
    out = snake(name)
    return out + "_" if keyword.iskeyword(out) else out


def class_name(path: str) -> str:
    """``studio.queryRuns`` → ``StudioQueryRuns``."""
    return "".join(part[:1].upper() + part[1:] for part in path.split("."))


def constant_name(method: str) -> str:
    """``catalog.entities.list`` → ``CATALOG_ENTITIES_LIST``."""
    return "_".join(snake(part).upper() for part in method.split("."))
