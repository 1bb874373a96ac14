"""The fake's request path: route → record → fault → verb → auth → rate window → args → answer.

Every registry method is served (Web at ``/{name}``, Data Cloud at ``/api/{name}``), looked up
in ``METHODS`` at request time, and so is every method a test added (:mod:`._adhoc`). Methods
without a stateful handler answer a deterministic payload synthesized from their generated
result class.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from typing import Any

import attrs
from aiohttp import BodyPartReader, web

from .._generated.specs import METHODS
from .._spec import KeyedRate, MethodSpec
from ._adhoc import AdHocMethod
from ._args import parse_args
from ._faults import Faults, sleep
from ._paging import page_payload
from ._reply import Answer, Call, Fail, Handler, Items, Reply
from ._synth import fill_required, item_type, result_class, synthesize
from ._window import Counters, SlidingWindow, retry_after_header

__all__ = ["Recorded", "Server"]

#: Per-key limits DX documents, used when the registry does not state them.
DEFAULT_KEYED = {"studio.queryRuns.info": KeyedRate(10, 5.0, "id")}
SYNTHETIC_ITEMS = 12  # a few pages at small limits; small records for exports


@attrs.define
class Recorded:
    """One request as the fake saw it (``Authorization`` masked)."""

    http: str
    path: str
    #: The registry method name (None when the path names no method).
    method: str | None
    headers: dict[str, str]
    query: dict[str, str]
    body: Any
    time: float
    status: int = 0


def _mask(headers: Mapping[str, str]) -> dict[str, str]:
    out = dict(headers)
    for name in list(out):
        if name.lower() == "authorization":
            scheme = out[name].split(" ", 1)[0]
            out[name] = f"{scheme} ***" if " " in out[name] else "***"
    return out


def _has_scope(scopes: frozenset[str] | None, needed: str | None) -> bool:
    """Whether ``scopes`` grant every space-separated scope of ``needed``.

    A granted scope also covers its sub-scopes (``catalog:write`` → ``catalog:write:entities``).
    """
    if scopes is None or needed is None or "*" in scopes:
        return True
    return all(
        part in scopes or any(part.startswith(s + ":") for s in scopes) for part in needed.split()
    )


def _json_response(status: int, payload: Any, headers: Mapping[str, str]) -> web.Response:
    body = json.dumps(payload, separators=(",", ":"), default=str).encode()
    return web.Response(
        status=status, body=body, headers=dict(headers), content_type="application/json"
    )


class Server:
    """The fake's state machine; ``FakeDX`` owns one and serves :meth:`handle`."""

    def __init__(
        self,
        *,
        tokens: Mapping[str, frozenset[str] | None],
        handlers: Mapping[str, Handler],
        window: SlidingWindow | None,
        max_limit: int = 100,
        clock: Callable[[], float] = time.monotonic,
        reshape: Callable[[MethodSpec, dict[str, Any]], dict[str, Any]] | None = None,
    ) -> None:
        self.tokens = dict(tokens)
        self.handlers = dict(handlers)
        self.window = window
        self.max_limit = max_limit
        self.clock = clock
        #: Changes every successful payload before it is sent (``FakeDX(drift=...)``).
        self.reshape = reshape
        self.faults = Faults(served=lambda: {*METHODS, *(name for _, name in self.adhoc)})
        self.counters = Counters()
        self.requests: list[Recorded] = []
        self._keyed: dict[str, SlidingWindow] = {}
        self._synthetic: dict[str, Reply] = {}
        #: Methods a test added (``FakeDX.add_method``), by (api, name).
        self.adhoc: dict[tuple[str, str], AdHocMethod] = {}

    def app(self) -> web.Application:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/api/{name}", self.handle)
        app.router.add_route("*", "/{name}", self.handle)
        return app

    async def handle(self, request: web.Request) -> web.StreamResponse:
        api = "datacloud" if request.path.startswith("/api/") else "web"
        name = request.match_info["name"]
        adhoc = self.adhoc.get((api, name))
        spec = adhoc.spec if adhoc is not None else METHODS.get(name)
        if spec is not None and spec.api != api:
            spec = None
        record = Recorded(
            request.method, request.path, spec.name if spec else None,
            _mask(request.headers), dict(request.query), None, self.clock(),
        )  # fmt: skip
        self.requests.append(record)
        try:
            text, native = await self._read(request, record)
            if spec is None:
                raise Fail(404, "unknown_method", f"no {api} method {name!r}")
            fault = self.faults.take(spec.name)
            if fault is not None:
                await sleep(fault.delay)
                if fault.replaces_answer:
                    record.status = 0 if fault.drop_connection else fault.status or 200
                    return await fault.respond(request)
            answer = self._answer(request, spec, text, native)
        except Fail as fail:
            record.status = fail.status
            return _json_response(fail.status, fail.payload(), fail.headers)
        except Exception as exc:  # a handler bug: answer as a server would, with the cause
            record.status = 500
            failure = {"ok": False, "error": "fake_internal_error", "message": repr(exc)}
            return _json_response(500, failure, {})
        record.status = answer.status
        body: Any = answer.payload
        if self.reshape is not None and 200 <= answer.status < 300:
            body = self.reshape(spec, dict(body))
        if spec.bare_array is not None and 200 <= answer.status < 300:
            body = body.get(spec.bare_array, [])  # no envelope, as DX sends it
        return _json_response(answer.status, body, answer.headers)

    async def _read(
        self, request: web.Request, record: Recorded
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """(text values from query and form, native values from a JSON body)."""
        text: dict[str, Any] = dict(request.query)
        native: dict[str, Any] = {}
        if not request.body_exists:
            return text, native
        kind = request.content_type
        if kind == "multipart/form-data":
            form: dict[str, Any] = {}
            async for part in await request.multipart():
                if not isinstance(part, BodyPartReader):
                    continue
                data = await part.read()
                if part.filename:
                    form[str(part.name)] = {
                        "filename": part.filename,
                        "size": len(data),
                        "content": bytes(data),
                    }
                else:
                    form[str(part.name)] = bytes(data).decode("utf-8", "replace")
            record.body = form
            text.update(form)
        elif kind == "application/x-www-form-urlencoded":
            form = dict(await request.post())
            record.body = form
            text.update(form)
        else:
            raw = await request.read()
            try:
                decoded = json.loads(raw) if raw.strip() else {}
            except ValueError:
                record.body = raw.decode("utf-8", "replace")
                raise Fail(400, "invalid_json", "the body is not valid JSON") from None
            record.body = decoded
            if not isinstance(decoded, dict):
                raise Fail(422, "invalid_arguments", "the JSON body must be an object")
            native = decoded
        return text, native

    def _answer(
        self, request: web.Request, spec: MethodSpec, text: dict[str, Any], native: dict[str, Any]
    ) -> Answer:
        if request.method != spec.http:
            raise Fail(
                405,
                "method_not_allowed",
                f"{spec.name} takes {spec.http}",
                headers={"Allow": spec.http},
            )
        token, scopes = self._authenticate(request, spec)
        self._admit(token, spec, text, native)
        args, problems = parse_args(spec, text, native)
        if (spec.api, spec.name) in self.adhoc:  # no declared arguments: all as they arrived
            args = {**text, **native}
        if problems:
            raise Fail(422, "invalid_arguments", "; ".join(problems), extra={"problems": problems})
        reply = self._dispatch(Call(spec, args, token, scopes))
        if isinstance(reply, Items):
            payload: dict[str, Any] = dict(reply.extra)
            if spec.page is not None:
                payload.update(page_payload(spec, args, reply.items, max_limit=self.max_limit))
            else:
                payload[reply.key] = list(reply.items)
            reply = Answer(payload)
        elif not isinstance(reply, Answer):
            reply = Answer(reply)
        payload = {"ok": True, **reply.payload}
        if 200 <= reply.status < 300:
            fill_required(payload, result_class(spec))
        return attrs.evolve(reply, payload=payload)

    def _authenticate(
        self, request: web.Request, spec: MethodSpec
    ) -> tuple[str, frozenset[str] | None]:
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Fail(401, "not_authed", "no bearer token was sent")
        token = token.strip()
        if token not in self.tokens:
            raise Fail(401, "invalid_auth", "the token is not valid")
        scopes = self.tokens[token]
        if not _has_scope(scopes, spec.scope):
            raise Fail(
                403, "missing_scope", f"{spec.name} needs the scope {spec.scope!r}",
                extra={"needed": ",".join((spec.scope or "").split()),
                       "provided": ",".join(sorted(scopes or ()))},
            )  # fmt: skip
        return token, scopes

    def _admit(
        self, token: str, spec: MethodSpec, text: Mapping[str, Any], native: Mapping[str, Any]
    ) -> None:
        now = self.clock()
        if self.window is not None:
            wait = self.window.admit(token, now)
            if wait is not None:
                self.counters.refused_429 += 1
                raise Fail(429, "rate_limited", headers={"Retry-After": retry_after_header(wait)})
        self.counters.accepted += 1
        self.counters.arrivals.append(now)
        self.counters.by_method[spec.name] += 1
        rate = spec.rate_limit or DEFAULT_KEYED.get(spec.name)
        if rate is None:
            return
        window = self._keyed.setdefault(spec.name, SlidingWindow(rate.requests, rate.per))
        key = native.get(rate.key, text.get(rate.key, ""))
        wait = window.admit(f"{token}|{key}", now)
        if wait is not None:
            self.counters.refused_429 += 1
            message = f"at most {rate.requests} calls per {rate.per:g} s per {rate.key}"
            raise Fail(
                429, "rate_limited", message, headers={"Retry-After": retry_after_header(wait)}
            )

    def _dispatch(self, call: Call) -> Reply:
        adhoc = self.adhoc.get((call.spec.api, call.name))
        handler = adhoc.handle if adhoc is not None else self.handlers.get(call.name)
        if handler is not None:
            return handler(call)
        return self._synthesize(call.spec)

    def _synthesize(self, spec: MethodSpec) -> Reply:
        """A deterministic answer of the documented shape (cached per method)."""
        cached = self._synthetic.get(spec.name)
        if cached is not None:
            return cached
        cls = result_class(spec)
        reply: Reply
        if spec.page is not None:
            kind = item_type(cls, spec.page.items) if cls is not None else None
            make: Callable[[int], dict[str, Any]] = (
                (lambda n: synthesize(kind, n)) if isinstance(kind, type) and attrs.has(kind)
                else (lambda n: {"id": f"{spec.page.items if spec.page else 'item'}-{n}"})
            )  # fmt: skip
            reply = Items(spec.page.items, [make(n) for n in range(1, SYNTHETIC_ITEMS + 1)])
        else:
            reply = synthesize(cls) if cls is not None else {}
        self._synthetic[spec.name] = reply
        return reply
