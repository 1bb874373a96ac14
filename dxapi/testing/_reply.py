"""What a fake handler returns: a payload, a list for the pager, or a failure."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeAlias

import attrs

from .._spec import MethodSpec

__all__ = ["Answer", "Call", "Fail", "Handler", "Items", "Reply", "not_found"]


@attrs.frozen
class Answer:
    """A successful payload (``ok: true`` is added), with an optional status and headers."""

    payload: Mapping[str, Any]
    status: int = 200
    headers: Mapping[str, str] = attrs.field(factory=dict)


@attrs.frozen
class Items:
    """Every item of a list method; the app pages them by the method's PageSpec.

    ``key`` names the result key when the registry gives the method no PageSpec.
    """

    key: str
    items: Sequence[Mapping[str, Any]]
    extra: Mapping[str, Any] = attrs.field(factory=dict)


@attrs.frozen
class Call:
    """One checked request, as a handler sees it."""

    spec: MethodSpec
    args: dict[str, Any]
    token: str = attrs.field(default="", repr=False)
    #: The token's scopes (None: every scope).
    scopes: frozenset[str] | None = None

    @property
    def name(self) -> str:
        return self.spec.name


class Fail(Exception):
    """An error answer: ``{"ok": false, "error": code, ...}``."""

    def __init__(
        self,
        status: int,
        error: str,
        message: str | None = None,
        *,
        headers: Mapping[str, str] | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(error)
        self.status = status
        self.error = error
        self.message = message
        self.headers = dict(headers or {})
        self.extra = dict(extra or {})

    def payload(self) -> dict[str, Any]:
        out: dict[str, Any] = {"ok": False, "error": self.error}
        if self.message:
            out["message"] = self.message
            out["error_details"] = {"message": self.message}
        out.update(self.extra)
        return out


def not_found(what: str, key: Any) -> Fail:
    return Fail(404, "not_found", f"no {what} {key!r}")


Reply: TypeAlias = Mapping[str, Any] | Answer | Items
Handler: TypeAlias = Callable[[Call], Reply]
