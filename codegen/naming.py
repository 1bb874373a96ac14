"""Wire names as Python names (the rule is :mod:`dxapi._naming`, shared with the runtime)."""

from __future__ import annotations

from dxapi._naming import py_name, snake

__all__ = ["class_name", "constant_name", "py_name", "snake"]


def class_name(path: str) -> str:
    """``studio.queryRuns`` → ``StudioQueryRuns``."""
    return "".join(part[:1].upper() + part[1:] for part in path.split("."))


def constant_name(method: str) -> str:
    """``catalog.entities.list`` → ``CATALOG_ENTITIES_LIST``."""
    return "_".join(snake(part).upper() for part in method.split("."))
