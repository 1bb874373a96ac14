"""YAML → :class:`codegen.model.Registry`, checking everything on the way.

:func:`build` reports every problem at once, each naming the file, the method (or shape) and
the key: ``web.yaml: catalog.entities.list: args.limit.type: unknown type 'integer'``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import attrs

from dxapi._spec import ArgSpec, KeyedRate, MethodSpec, PageSpec, WaitDelay, WaiterSpec

from .model import (
    Field,
    Method,
    Registry,
    RegistryError,
    Shape,
    Waiter,
    arg_type,
    parse_type,
)
from .naming import class_name, py_name

__all__ = ["build"]

_RESERVED_FIELDS = frozenset({"list", "dict", "str", "int", "float", "bool", "datetime", "Any"})
_METHOD_NAME = re.compile(r"^[a-z][A-Za-z0-9]*(\.[a-z][A-Za-z0-9]*)+$")
_SHAPE_NAME = re.compile(r"^[A-Z][A-Za-z0-9]*$")
_WIRE_NAME = re.compile(r"^[a-z_][a-z0-9_]*$")
#: Keyword names every generated method takes besides the registry's arguments.
RESERVED_ARGS = ("extra_query", "extra_body", "extra_headers")


# --------------------------------------------------------------------------- building

_METHOD_KEYS = {
    "http",
    "scope",
    "summary",
    "args",
    "result",
    "paginate",
    "idempotent",
    "deprecated",
    "rate_limit",
    "upload",
    "download",
    "pending_error",
    "idempotent_when",
    "alias_of",
    "example",
    "bare_array",
}
_ARG_KEYS = {"type", "required", "doc", "default", "in", "enum", "format", "nullable", "prefix"}
_PAGE_KEYS = {"items", "input", "output", "total", "style", "limit"}


class _Problems:
    def __init__(self) -> None:
        self.items: list[str] = []

    def add(self, file: str, where: str, key: str, what: str) -> None:
        self.items.append(f"{file}: {where}: {key}: {what}")


def build(files: Mapping[str, Any]) -> Registry:
    """Validate parsed YAML files into a :class:`Registry`, or raise :class:`RegistryError`."""
    p = _Problems()
    shapes: dict[str, Shape] = {}
    raw_methods: dict[str, tuple[str, str, Mapping[str, Any]]] = {}
    helpers: dict[str, str] = {}
    waiters: dict[str, Waiter] = {}
    for file, doc in files.items():
        if not isinstance(doc, Mapping):
            p.add(file, "(file)", "(top)", "must be a mapping")
            continue
        unknown = set(doc) - {"api", "shapes", "methods", "namespaces", "waiters", "doc"}
        for key in sorted(unknown):
            p.add(file, "(file)", key, "unknown top-level key")
        for name, body in (doc.get("shapes") or {}).items():
            if name in shapes:
                p.add(file, name, "(shape)", f"duplicate shape (also in {shapes[name].file})")
                continue
            shape = _shape(p, file, name, body)
            if shape:
                shapes[name] = shape
        api = doc.get("api")
        methods = doc.get("methods") or {}
        if methods and api not in ("web", "datacloud"):
            p.add(file, "(file)", "api", "must be 'web' or 'datacloud'")
        for name, body in methods.items():
            if name in raw_methods:
                p.add(file, name, "(method)", f"duplicate method (also in {raw_methods[name][0]})")
                continue
            raw_methods[name] = (file, str(api), body if isinstance(body, Mapping) else {})
            if not isinstance(body, Mapping):
                p.add(file, name, "(method)", "must be a mapping")
        for path, body in (doc.get("namespaces") or {}).items():
            helper = (body or {}).get("helpers")
            if not isinstance(helper, str) or ":" not in helper:
                p.add(file, path, "helpers", "must be 'module:Class'")
            else:
                helpers[f"{api}:{path}"] = helper
        for wname, wbody in (doc.get("waiters") or {}).items():
            if wname in waiters:
                p.add(file, wname, "(waiter)", f"duplicate waiter (also in {waiters[wname].file})")
                continue
            waiter = _waiter(p, file, str(wname), wbody)
            if waiter:
                waiters[waiter.name] = waiter
    built: dict[str, Method] = {}
    for name, (file, api, body) in raw_methods.items():
        alias_of = body.get("alias_of")
        if alias_of is not None:
            target = raw_methods.get(str(alias_of))
            if target is None or "alias_of" in target[2]:
                what = "an alias" if target else "unknown method"
                p.add(file, name, "alias_of", f"{what} {alias_of!r}: name a method entry")
                continue
            body = {**target[2], **{k: v for k, v in body.items() if k != "alias_of"}}
        method = _method(p, file, api, name, body)
        if method and alias_of is not None:  # one result class: the target's
            spec = attrs.evolve(
                method.spec, alias_of=str(alias_of), result=class_name(str(alias_of)) + "Result"
            )
            method = attrs.evolve(method, spec=spec)
        if method:
            built[name] = method
    _cross_check(p, shapes, built, helpers)
    _check_waiters(p, waiters, built)
    if p.items:
        raise RegistryError(p.items)
    return Registry(shapes, built, helpers, waiters)


def _text(value: Any) -> str:
    return " ".join(str(value or "").split())


def _field_spec(p: _Problems, file: str, where: str, key: str, spec: Any) -> Field | None:
    doc = ""
    if isinstance(spec, Mapping):
        if not key.startswith("args."):  # argument keys are checked by _arg
            for extra in sorted(set(spec) - {"type", "doc", "required"}):
                p.add(
                    file,
                    where,
                    f"{key}.{extra}",
                    "unknown field key (a doc with commas needs quotes)",
                )
        doc = _text(spec.get("doc"))
        text = str(spec.get("type", ""))
        required = bool(spec.get("required", False))
    elif isinstance(spec, str):
        text, required = spec, False
    else:
        p.add(file, where, key, "must be a type string or a mapping with 'type'")
        return None
    if text.endswith("!"):
        text, required = text[:-1], True
    try:
        type_ = parse_type(text)
    except ValueError as exc:
        p.add(file, where, key, str(exc))
        return None
    name = key.rsplit(".", 1)[-1]
    if name in _RESERVED_FIELDS:
        p.add(file, where, key, f"field name {name!r} would shadow a type in generated code")
    return Field(name, type_, required, doc)


def _shape(p: _Problems, file: str, name: str, body: Any) -> Shape | None:
    if not _SHAPE_NAME.match(str(name)):
        p.add(file, name, "(shape)", "shape names are CapWords")
        return None
    if not isinstance(body, Mapping) or not isinstance(body.get("fields", {}), Mapping):
        p.add(file, name, "fields", "must be a mapping of field name to type")
        return None
    for key in sorted(set(body) - {"doc", "fields"}):
        p.add(file, name, key, "unknown shape key")
    fields = []
    for fname, fspec in (body.get("fields") or {}).items():
        field = _field_spec(p, file, name, f"fields.{fname}", fspec)
        if field:
            fields.append(field)
    return Shape(name, file, _text(body.get("doc")), tuple(fields))


def _method(
    p: _Problems, file: str, api: str, name: str, body: Mapping[str, Any]
) -> Method | None:
    if not _METHOD_NAME.match(name):
        p.add(file, name, "(method)", "method names look like family.method (camelCase parts)")
        return None
    for key in sorted(set(body) - _METHOD_KEYS):
        p.add(file, name, key, "unknown method key")
    http = body.get("http")
    if http not in ("GET", "POST"):
        p.add(file, name, "http", f"must be GET or POST, got {http!r}")
        return None
    args = []
    for aname, aspec in (body.get("args") or {}).items():
        arg = _arg(p, file, name, str(aname), aspec)
        if arg:
            args.append(arg)
    result = []
    raw_result = body.get("result") or {}
    result_type = None
    if isinstance(raw_result, str):  # a loose result: the whole payload as one type
        try:
            result_type = parse_type(raw_result)
        except ValueError as exc:
            p.add(file, name, "result", str(exc))
        if result_type is not None and result_type.kind not in ("map", "json"):
            p.add(file, name, "result", "a result given as a type must be map<...> or json")
        raw_result = {}
    if not isinstance(raw_result, Mapping):
        p.add(file, name, "result", "must be a mapping of payload key to type")
        raw_result = {}
    for fname, fspec in raw_result.items():
        field = _field_spec(p, file, name, f"result.{fname}", fspec)
        if field:
            result.append(field)
    page = None
    if "paginate" in body:
        raw = body["paginate"]
        if not isinstance(raw, Mapping) or "items" not in raw:
            p.add(file, name, "paginate", "must be a mapping with at least 'items'")
        else:
            for key in sorted(set(raw) - _PAGE_KEYS):
                p.add(file, name, f"paginate.{key}", "unknown pagination key")
            if raw.get("style", "cursor") not in ("cursor", "page"):
                p.add(file, name, "paginate.style", "must be cursor or page")
            page = PageSpec(**{k: raw[k] for k in _PAGE_KEYS if k in raw})
    rate = None
    if "rate_limit" in body:
        raw = body["rate_limit"]
        try:
            rate = KeyedRate(int(raw["requests"]), float(raw["per"]), str(raw["key"]))
        except (KeyError, TypeError, ValueError):
            p.add(file, name, "rate_limit", "needs requests, per (seconds) and key (an arg)")
    idempotent = body.get("idempotent", http == "GET")
    if not isinstance(idempotent, bool):
        p.add(file, name, "idempotent", "must be true or false")
        idempotent = False
    spec = MethodSpec(
        name=name,
        http=http,
        api=api,
        scope=body.get("scope"),
        args=tuple(args),
        idempotent=idempotent,
        summary=_text(body.get("summary")),
        page=page,
        deprecated=_text(body.get("deprecated")) or None,
        rate_limit=rate,
        upload=body.get("upload"),
        download=bool(body.get("download", False)),
        pending_error=body.get("pending_error"),
        idempotent_when=body.get("idempotent_when"),
        result=class_name(name) + "Result",
        bare_array=body.get("bare_array"),
    )
    return Method(spec, file, tuple(result), result_type, body.get("example"))


def _arg(p: _Problems, file: str, method: str, name: str, spec: Any) -> ArgSpec | None:
    if not _WIRE_NAME.match(name):
        p.add(file, method, f"args.{name}", "argument names are snake_case wire names")
        return None
    if py_name(name) in (*RESERVED_ARGS, "self"):
        p.add(file, method, f"args.{name}", "reserved: every generated method has this keyword")
        return None
    raw: Mapping[str, Any] = spec if isinstance(spec, Mapping) else {"type": spec}
    for key in sorted(set(raw) - _ARG_KEYS):
        p.add(file, method, f"args.{name}.{key}", "unknown argument key")
    field = _field_spec(p, file, method, f"args.{name}", raw)
    if field is None:
        return None
    location = raw.get("in", "auto")
    if location not in ("auto", "query", "body"):
        p.add(file, method, f"args.{name}.in", "must be query or body")
    fmt = raw.get("format", "iso")
    if fmt not in ("iso", "unix", "unix_text"):
        p.add(file, method, f"args.{name}.format", "must be iso, unix or unix_text")
    prefix = raw.get("prefix")
    if prefix is not None and (not isinstance(prefix, str) or field.type.kind != "map"):
        p.add(file, method, f"args.{name}.prefix", "needs a map<...> argument and a string")
        prefix = None
    enum = raw.get("enum") or ()
    if not isinstance(enum, list | tuple) or not all(isinstance(e, str) for e in enum):
        p.add(file, method, f"args.{name}.enum", "must be a list of strings")
        enum = ()
    nullable = raw.get("nullable", False)
    if not isinstance(nullable, bool):
        p.add(file, method, f"args.{name}.nullable", "must be true or false")
        nullable = False
    return ArgSpec(
        name=name,
        type=field.type.canonical(),
        required=field.required,
        doc=field.doc,
        location=location,
        enum=tuple(enum),
        format=fmt,
        default=raw.get("default"),
        nullable=nullable,
        prefix=prefix,
    )


def _cross_check(
    p: _Problems,
    shapes: Mapping[str, Shape],
    methods: Mapping[str, Method],
    helpers: Mapping[str, str],
) -> None:
    for shape in shapes.values():
        for f in shape.fields:
            for ref in sorted(f.type.shapes() - set(shapes)):
                p.add(shape.file, shape.name, f"fields.{f.name}", f"unknown shape {ref!r}")
    for m in methods.values():
        for a in m.spec.args:
            for ref in sorted(arg_type(a).shapes() - set(shapes)):
                p.add(m.file, m.name, f"args.{a.name}.type", f"unknown shape {ref!r}")
        for f in m.fields:
            for ref in sorted(f.type.shapes() - set(shapes)):
                p.add(m.file, m.name, f"result.{f.name}", f"unknown shape {ref!r}")
        arg_names = {a.name for a in m.spec.args}
        if m.spec.page:
            if m.spec.page.input not in arg_names:
                p.add(m.file, m.name, "paginate.input", f"no argument {m.spec.page.input!r}")
            if m.item_type() is None:
                p.add(m.file, m.name, "paginate.items", "must name a list<...> result field")
        if m.spec.rate_limit and m.spec.rate_limit.key not in arg_names:
            p.add(m.file, m.name, "rate_limit.key", f"no argument {m.spec.rate_limit.key!r}")
        if m.spec.idempotent_when and m.spec.idempotent_when not in arg_names:
            p.add(m.file, m.name, "idempotent_when", f"no argument {m.spec.idempotent_when!r}")
        if m.spec.upload and m.spec.upload not in arg_names:
            p.add(m.file, m.name, "upload", f"no argument {m.spec.upload!r}")
        if m.spec.bare_array and not any(
            f.name == m.spec.bare_array and f.type.kind == "list" for f in m.fields
        ):
            p.add(m.file, m.name, "bare_array", "must name a list<...> result field")
        if m.result_type is not None:
            for ref in sorted(m.result_type.shapes() - set(shapes)):
                p.add(m.file, m.name, "result", f"unknown shape {ref!r}")
        if m.spec.http == "GET" and any(a.location == "body" for a in m.spec.args):
            p.add(m.file, m.name, "args", "a GET method cannot take body arguments")
    for key in helpers:
        api, path = key.split(":", 1)
        if not any(n.startswith(path + ".") for n, m in methods.items() if m.spec.api == api):
            p.add("(registry)", path, "helpers", "no method lives under this namespace")


# ------------------------------------------------------------------------------ waiters

_WAITER_KEYS = {
    "doc",
    "poll",
    "id",
    "status",
    "job",
    "error",
    "start",
    "start_id",
    "pending",
    "success",
    "failure",
    "timeout_error",
    "delay",
}
_WAITER_NAME = re.compile(r"^[a-z][A-Za-z0-9]*$")
_ERROR_CLASS = re.compile(r"^[A-Z][A-Za-z0-9]*Error$")
_DOTTED = re.compile(r"^[a-z_][a-z0-9_]*(\.[a-z_][a-z0-9_]*)*$")


def _states(p: _Problems, file: str, name: str, key: str, raw: Any) -> tuple[str, ...]:
    if not isinstance(raw, list | tuple) or not all(isinstance(s, str) and s for s in raw):
        p.add(file, name, key, "must be a list of state names")
        return ()
    return tuple(raw)


def _waiter(p: _Problems, file: str, name: str, body: Any) -> Waiter | None:
    if not _WAITER_NAME.match(name):
        p.add(file, name, "(waiter)", "waiter names are camelCase, e.g. queryRun")
        return None
    if not isinstance(body, Mapping):
        p.add(file, name, "(waiter)", "must be a mapping")
        return None
    for key in sorted(set(body) - _WAITER_KEYS):
        p.add(file, name, key, "unknown waiter key")
    for key in ("poll", "id", "status"):
        if not isinstance(body.get(key), str) or not body.get(key):
            p.add(file, name, key, "required")
    for key in ("status", "job", "error", "start_id"):
        value = body.get(key)
        if value is not None and not (isinstance(value, str) and _DOTTED.match(value)):
            p.add(file, name, key, "must be a dotted payload path like query_run.status")
    pending = _states(p, file, name, "pending", body.get("pending", []))
    success = _states(p, file, name, "success", body.get("success"))
    if not success:
        p.add(file, name, "success", "needs at least one state")
    raw_failure = body.get("failure") or {}
    failure: list[tuple[str, str]] = []
    if not isinstance(raw_failure, Mapping):
        p.add(file, name, "failure", "must map each failure state to an error class name")
        raw_failure = {}
    for state, cls in raw_failure.items():
        if not isinstance(cls, str) or not _ERROR_CLASS.match(cls):
            p.add(file, name, f"failure.{state}", "must name an error class (…Error)")
            continue
        failure.append((str(state), cls))
    seen: dict[str, str] = {}
    groups = (("pending", pending), ("success", success), ("failure", [s for s, _ in failure]))
    for group, states in groups:
        for s in states:
            if s in seen:
                p.add(file, name, group, f"state {s!r} is also listed under {seen[s]}")
            seen[s] = group
    timeout_error = body.get("timeout_error", "JobError")
    if not isinstance(timeout_error, str) or not _ERROR_CLASS.match(timeout_error):
        p.add(file, name, "timeout_error", "must name an error class (…Error)")
        timeout_error = "JobError"
    if (body.get("start") is None) != (body.get("start_id") is None):
        p.add(file, name, "start", "start and start_id go together")
    delay = _delay(p, file, name, body.get("delay") or {})
    spec = WaiterSpec(
        name=name,
        poll=str(body.get("poll", "")),
        id_arg=str(body.get("id", "")),
        status=str(body.get("status", "")),
        pending=pending,
        success=success,
        failure=tuple(failure),
        job=body.get("job"),
        error=body.get("error"),
        start=body.get("start"),
        start_id=body.get("start_id"),
        timeout_error=timeout_error,
        delay=delay,
        doc=_text(body.get("doc")),
    )
    return Waiter(spec, file)


def _delay(p: _Problems, file: str, name: str, raw: Any) -> WaitDelay:
    problem = "needs initial, max (seconds) and multiplier, with initial <= max, multiplier >= 1"
    if not isinstance(raw, Mapping) or set(raw) - {"initial", "max", "multiplier"}:
        p.add(file, name, "delay", problem)
        return WaitDelay()
    try:
        initial = float(raw.get("initial", 1.0))
        cap = float(raw.get("max", 10.0))
        multiplier = float(raw.get("multiplier", 1.5))
    except (TypeError, ValueError):
        p.add(file, name, "delay", problem)
        return WaitDelay()
    if not (0 <= initial <= cap and multiplier >= 1):
        p.add(file, name, "delay", problem)
    return WaitDelay(initial, cap, multiplier)


def _check_waiters(
    p: _Problems, waiters: Mapping[str, Waiter], methods: Mapping[str, Method]
) -> None:
    for waiter in waiters.values():
        w, file = waiter.spec, waiter.file
        poll = methods.get(w.poll)
        if poll is None:
            p.add(file, w.name, "poll", f"unknown method {w.poll!r}")
        else:
            if w.id_arg not in {a.name for a in poll.spec.args}:
                p.add(file, w.name, "id", f"{w.poll} has no argument {w.id_arg!r}")
            if not poll.spec.idempotent:
                p.add(file, w.name, "poll", f"{w.poll} is not safe to repeat")
            keys = {f.name for f in poll.fields}
            for key in ("status", "job", "error"):
                path = getattr(w, key)
                if path and path.split(".")[0] not in keys:
                    p.add(file, w.name, key, f"{w.poll} has no result key {path!r}")
        if w.start is not None:
            start = methods.get(w.start)
            if start is None:
                p.add(file, w.name, "start", f"unknown method {w.start!r}")
            elif w.start_id and w.start_id.split(".")[0] not in {f.name for f in start.fields}:
                p.add(file, w.name, "start_id", f"{w.start} has no result key {w.start_id!r}")
