"""``FakePeer``: a fake REST API (Sigma, DataGalaxy, Datalinx) on 127.0.0.1, from its registry.

Routes, verbs, path parameters, auth schemes, envelopes, pagination and rate-limit headers
all come from the API's generated specs and :class:`~dxapi._dialect.Dialect`; only the
store's behaviour is the fake's own, chosen by a method's last name part: ``list`` (and any
paginated method) pages through the namespace's objects, ``info`` reads one, ``create`` adds
one (``upsert: true`` updates the object with the same ``technicalName`` or ``name``),
``update``/``replace`` merge into one, ``delete`` removes one. Any other method answers what a
test's :meth:`FakePeer.handle` returns, else ``{}`` (or its result's required fields).
"""

from __future__ import annotations

import importlib
import itertools
import json
import math
import time
from collections.abc import Callable, Mapping
from typing import Any, Self

import attrs
from aiohttp import web

from .._dialect import BEARER, Dialect, encode_path
from .._spec import MethodSpec
from ._app import Recorded
from ._args import parse_args
from ._reply import Fail
from ._synth import synthesize

__all__ = ["FakePeer", "PeerCall"]

_CRUD = frozenset({"list", "info", "create", "update", "replace", "delete"})


class _FileAnswer(Exception):
    def __init__(self, body: bytes) -> None:
        self.body = body


@attrs.frozen
class PeerCall:
    """What a :meth:`FakePeer.handle` handler receives: the method and its parsed arguments."""

    spec: MethodSpec
    args: Mapping[str, Any]


class FakePeer:
    """A fake of one REST API: ``async with FakePeer("sigma") as fake: fake.client()``.

    ``token`` is the only credential accepted (by every scheme the API declares).
    ``rate_limit=(requests, seconds)`` counts a fixed window per token and sends the API's
    rate headers (``X-RateLimit-Limit/Remaining/Reset``) with every answer, and a 429 once the
    window is spent. ``clock`` is Unix time (the ``Reset`` header's). ``requests`` records
    every arrival, credentials masked.
    """

    def __init__(
        self,
        api: str,
        *,
        token: str = "peerfake-token",
        rate_limit: tuple[int, float] | None = None,
        clock: Callable[[], float] = time.time,
        host: str = "127.0.0.1",
    ) -> None:
        specs = importlib.import_module(f"dxapi._generated.peers.{api}.specs")
        self.api = api
        self.dialect: Dialect = specs.DIALECT
        self.methods: dict[str, MethodSpec] = dict(specs.METHODS)
        self.token = token
        self.rate_limit = rate_limit
        self.clock = clock
        self.host = host
        self.url = ""
        #: Objects by namespace (``teams``, ``workspaces.grants``), then by id.
        self.store: dict[str, dict[str, dict[str, Any]]] = {}
        self.requests: list[Recorded] = []
        #: Answers refused with 429 because the rate window was spent.
        self.refused_429 = 0
        self._handlers: dict[str, Callable[[PeerCall], Any]] = {}
        self._ids = itertools.count(1)
        self._window: tuple[float, int] = (-math.inf, 0)  # (reset time, requests used)
        self._runner: web.AppRunner | None = None

    # ------------------------------------------------------------------ set-up

    def add(self, namespace: str, *objects: Mapping[str, Any]) -> list[dict[str, Any]]:
        """Put objects in a namespace's store (each gets an id under the namespace's id key)."""
        key = self.id_key(namespace)
        out = []
        for obj in objects:
            item = dict(obj)
            item.setdefault(key, f"{namespace.rsplit('.', 1)[-1]}-{next(self._ids)}")
            self.store.setdefault(namespace, {})[str(item[key])] = item
            out.append(item)
        return out

    def handle(self, method: str, handler: Callable[[PeerCall], Any]) -> None:
        """Answer ``method`` with ``handler(call)``: a payload (wrapped in the envelope), or
        for a download method the file's text or bytes."""
        if method not in self.methods:
            raise KeyError(f"{self.api} has no method {method!r}")
        self._handlers[method] = handler

    def id_param(self, namespace: str) -> str:
        """The path parameter naming one object: the last of the namespace's ``info``,
        ``update`` or ``delete`` path (``teamId``), else ``id``."""
        for verb in ("info", "update", "delete"):
            spec = self.methods.get(f"{namespace}.{verb}")
            if spec is not None and spec.path_template and "{" in spec.path_template:
                return spec.path_template.rsplit("{", 1)[1].rstrip("}")
        return "id"

    def id_key(self, namespace: str) -> str:
        """The key of an object's id: ``id`` when the namespace's ``info`` result declares
        one, else its id parameter (Sigma's objects carry ``teamId``)."""
        info = self.methods.get(f"{namespace}.info")
        if info is not None and "id" in [name for name, _ in _fields(info)]:
            return "id"
        return self.id_param(namespace)

    def client(self, **options: Any) -> Any:
        """The API's client, pointed at this fake with its token."""
        import dxapi.peers

        cls = next(
            c
            for c in vars(dxapi.peers).values()
            if isinstance(c, type) and getattr(c, "_api", None) == self.api
        )
        return cls(self.token, base_url=self.url, **options)

    # ------------------------------------------------------------------ lifecycle

    async def __aenter__(self) -> Self:
        app = web.Application()
        routes = sorted(self.methods.values(), key=lambda s: (s.path.count("{"), s.path))
        for spec in routes:
            app.router.add_route(spec.http, spec.path, self._route(spec))
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, 0)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        self.url = f"http://{host}:{port}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # ------------------------------------------------------------------ serving

    def _route(self, spec: MethodSpec) -> Callable[[web.Request], Any]:
        async def serve(request: web.Request) -> web.Response:
            return await self._serve(spec, request)

        return serve

    async def _serve(self, spec: MethodSpec, request: web.Request) -> web.Response:
        record = Recorded(
            request.method, request.raw_path, spec.name, self._mask(request.headers),
            dict(request.query), None, self.clock(),
        )  # fmt: skip
        self.requests.append(record)
        headers: dict[str, str] = {}
        try:
            raw = await request.read()
            native = json.loads(raw) if raw.strip() else {}
            record.body = native
            self._authenticate(request)
            headers = self._admit()
            text = {**request.query, **request.match_info}
            text.update(self._header_args(spec, request))
            args, problems = parse_args(spec, text, native if isinstance(native, dict) else {})
            if problems:
                raise Fail(422, "VALIDATION_ERROR", "; ".join(problems))
            status, payload = self._answer(spec, args)
        except Fail as fail:
            record.status = fail.status
            return self._json(fail.status, self._error(fail), {**headers, **fail.headers})
        except _FileAnswer as file:
            record.status = 200
            return web.Response(body=file.body, headers=headers, content_type="text/csv")
        record.status = status
        if status == 204:
            return web.Response(status=204, headers=headers)
        return self._json(status, self._wrap(payload), headers)

    def _mask(self, headers: Mapping[str, str]) -> dict[str, str]:
        secret = {a.header.lower() for a in self.dialect.auth}
        return {k: ("***" if k.lower() in secret else v) for k, v in headers.items()}

    def _header_args(self, spec: MethodSpec, request: web.Request) -> dict[str, str]:
        return {
            a.name: request.headers[self.dialect.header_name(a.name)]
            for a in spec.args
            if a.location == "header" and self.dialect.header_name(a.name) in request.headers
        }

    def _authenticate(self, request: web.Request) -> None:
        for auth in self.dialect.auth:
            value = request.headers.get(auth.header, "")
            if auth == BEARER:
                scheme, _, value = value.partition(" ")
                if scheme.lower() != "bearer":
                    continue
            if value.strip() == self.token:
                return
        raise Fail(401, "UNAUTHORIZED", "invalid or missing credentials")

    def _admit(self) -> dict[str, str]:
        """Count the request in the rate window; the rate headers, or a 429."""
        rate = self.dialect.rate_headers
        if self.rate_limit is None or rate is None:
            return {}
        limit, per = self.rate_limit
        now = self.clock()
        reset, used = self._window
        if now >= reset:
            reset, used = float(math.ceil(now + per)), 0
        shown = str(int(reset)) if rate.reset_kind == "epoch" else f"{max(0.0, reset - now):.3f}"
        headers = {rate.remaining: str(max(0, limit - used - 1)), rate.reset: shown}
        if rate.limit:
            headers[rate.limit] = str(limit)
        if used >= limit:
            self.refused_429 += 1
            headers[rate.remaining] = "0"
            wait = str(max(1, math.ceil(reset - now)))
            raise Fail(
                429,
                "RATE_LIMITED",
                "rate limit exceeded",
                headers={**headers, "Retry-After": wait},
            )
        self._window = (reset, used + 1)
        return headers

    # ------------------------------------------------------------------ answers

    def _answer(self, spec: MethodSpec, args: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        status = spec.success[0] if spec.success else 200
        handler = self._handlers.get(spec.name)
        if handler is not None:
            answer = handler(PeerCall(spec, args))
            if spec.download and isinstance(answer, str | bytes):  # a file: sent as text/csv
                raise _FileAnswer(answer.encode() if isinstance(answer, str) else answer)
            return status, dict(answer or {})
        parts = spec.name.split(".")
        last = parts[-1]
        ns = ".".join(parts[:-1]) if last in _CRUD else spec.name
        if spec.page is not None:
            return status, self._page(spec, list(self.store.get(ns, {}).values()), args)
        if not any(f"{ns}.{verb}" in self.methods for verb in ("create", "list", "info")):
            last = ""  # not a collection (``teams.members.update``): no store behind it
        items = self.store.setdefault(ns, {})
        body = {k: v for k, v in args.items() if _is_body(spec, k)}
        ident = args.get(self.id_param(ns))
        if last == "create":
            if body.pop("upsert", False):
                match = body.get("technicalName") or body.get("name")
                for item in items.values():
                    if match and match in (item.get("technicalName"), item.get("name")):
                        item.update(body)
                        return 200, self._created(spec, ns, item, args)
            item = self.add(ns, body)[0]
            return status, self._created(spec, ns, item, args)
        if last in ("info", "update", "replace", "delete"):
            if ident is None or str(ident) not in items:
                raise Fail(404, "NOT_FOUND", f"no {ns} object {ident!r}")
            if last == "delete":
                del items[str(ident)]
                return status, {}
            item = items[str(ident)]
            item.update(body)
            return status, dict(item)
        if last == "list":  # a list without pages: the first list field of the result
            field = next((f for f in _fields(spec) if f[1]), None)
            return status, {field[0] if field else "items": list(items.values())}
        cls = _result_class(spec)
        return status, synthesize(cls) if cls is not None else {}

    def _created(
        self, spec: MethodSpec, ns: str, item: dict[str, Any], args: Mapping[str, Any]
    ) -> dict[str, Any]:
        names = [name for name, _ in _fields(spec)]
        if "location" in names:  # DataGalaxy answers where the new object lives
            ident = item[self.id_key(ns)]
            return {"id": ident, "location": f"{encode_path(spec, args)[1:]}/{ident}"}
        return dict(item)

    def _page(self, spec: MethodSpec, items: list[Any], args: Mapping[str, Any]) -> dict[str, Any]:
        page = spec.page
        assert page is not None
        size = int(args.get(page.limit or "", 0) or 50)
        if page.style == "cursor":
            offset = int(args.get(page.input) or 0)
            chunk = items[offset : offset + size]
            more = offset + size < len(items)
            out: dict[str, Any] = {page.items: chunk, "hasMore": more, "total": len(items)}
            _put(out, page.output, str(offset + size) if more else None)
            return out
        number = int(args.get(page.input) or 1)
        pages = max(1, math.ceil(len(items) / size))
        out = {page.items: items[(number - 1) * size : number * size]}
        total = page.total or "pages"
        if "." in total:  # a block: {page, page_size, total_items, total_pages}
            block = total.rsplit(".", 1)[0]
            _put(out, f"{block}.{page.input}", number)
            _put(out, f"{block}.{page.limit or 'limit'}", size)
            _put(out, f"{block}.total_items", len(items))
            _put(out, total, pages)
        else:
            out[total] = pages
            out["total"] = len(items)
        return out

    def _wrap(self, payload: dict[str, Any]) -> dict[str, Any]:
        env = self.dialect.envelope
        out: dict[str, Any] = {}
        if env.status:
            out[env.status] = env.success[0]
        if env.data is None:
            return {**out, **payload}
        if env.data in payload:
            return {**out, **payload}
        return {**out, env.data: payload}

    def _error(self, fail: Fail) -> dict[str, Any]:
        env = self.dialect.envelope
        out: dict[str, Any] = {}
        if env.status:
            out[env.status] = "failed"
        _put(out, env.code or "code", fail.error)
        _put(out, env.message or "message", fail.message or fail.error)
        return out

    @staticmethod
    def _json(status: int, payload: Any, headers: Mapping[str, str]) -> web.Response:
        body = json.dumps(payload, default=str).encode()
        return web.Response(
            status=status, body=body, headers=dict(headers), content_type="application/json"
        )


def _is_body(spec: MethodSpec, name: str) -> bool:
    arg = spec.arg(name)
    return arg is not None and arg.location not in ("path", "header")


def _put(out: dict[str, Any], path: str, value: Any) -> None:
    *parents, leaf = path.split(".")
    for part in parents:
        out = out.setdefault(part, {})
    out[leaf] = value


def _result_class(spec: MethodSpec) -> type | None:
    module = importlib.import_module(
        f"dxapi._generated.peers.{spec.api}.{_module(spec.name.split('.')[0])}"
    )
    cls = getattr(module, spec.result or "", None)
    return cls if isinstance(cls, type) and attrs.has(cls) else None


def _module(family: str) -> str:
    from .._naming import py_name

    return py_name(family)


def _fields(spec: MethodSpec) -> list[tuple[str, bool]]:
    """(wire name, is a list) of the result's fields."""
    cls = _result_class(spec)
    if cls is None:
        return []
    import typing

    hints = typing.get_type_hints(cls)
    out = []
    for f in attrs.fields(cls):
        hint = str(hints.get(f.name, ""))
        out.append((f.alias or f.name, "list[" in hint))
    return out
