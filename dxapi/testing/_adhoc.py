"""Methods the registry lacks, served on a test's request (DX's newest, before dxapi knows them).

An ad-hoc method declares no arguments: its handler sees every argument as it arrived (JSON
body values as decoded, query and form values as text) and returns the payload (``ok: true``
is added). Auth, scopes, the rate window, recording and injected faults apply as to any method.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Literal

import attrs

from .._generated.specs import METHODS
from .._spec import MethodSpec, adhoc_spec
from ._reply import Answer, Call, Reply

__all__ = ["AdHocMethod", "Respond"]

#: What answers an ad-hoc method: the request's arguments in, the payload out.
Respond = Callable[[dict[str, Any]], Mapping[str, Any]]


@attrs.frozen
class AdHocMethod:
    spec: MethodSpec
    respond: Respond

    @classmethod
    def make(
        cls,
        name: str,
        *,
        http: Literal["GET", "POST"],
        api: Literal["web", "datacloud"],
        scope: str | None,
        answer: Mapping[str, Any] | None,
        handler: Respond | None,
    ) -> AdHocMethod:
        if http not in ("GET", "POST"):
            raise ValueError(f"http must be 'GET' or 'POST', got {http!r}")
        if api not in ("web", "datacloud"):
            raise ValueError(f"api must be 'web' or 'datacloud', got {api!r}")
        if answer is not None and handler is not None:
            raise ValueError("give answer= or handler=, not both")
        known = METHODS.get(name)
        if known is not None and known.api == api:
            raise ValueError(
                f"{name} is a registry method; the fake serves it already "
                "(fake.inject changes its answers)"
            )
        spec = attrs.evolve(adhoc_spec(api, name, http, idempotent=False), scope=scope)
        if handler is None:
            fixed = dict(answer or {})

            def handler(_: dict[str, Any]) -> Mapping[str, Any]:
                return fixed

        return cls(spec, handler)

    def handle(self, call: Call) -> Reply:
        return Answer(dict(self.respond(dict(call.args))))
