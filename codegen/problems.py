"""Every problem of a registry, collected before it is refused; one text helper."""

from __future__ import annotations

from typing import Any

__all__ = ["Problems", "squash"]


class Problems:
    """Every ``file: where: key: what`` found so far."""

    def __init__(self) -> None:
        self.items: list[str] = []

    def add(self, file: str, where: str, key: str, what: str) -> None:
        self.items.append(f"{file}: {where}: {key}: {what}")


def squash(value: Any) -> str:
    """A YAML text value on one line (folded whitespace); empty for None."""
    return " ".join(str(value or "").split())
