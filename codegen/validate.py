"""YAML → :class:`codegen.model.Registry`, checking everything on the way.

:func:`build` reports every problem at once, each naming the file, the method (or shape) and
the key: ``web.yaml: catalog.entities.list: args.limit.type: unknown type 'integer'``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, cast

import attrs

from dxapi._dialect import Dialect
from dxapi._spec import EXTRAS, ArgSpec, KeyedRate, MethodSpec, PageSpec, Verb

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
from .problems import Problems, squash
from .rest import REST_METHOD_KEYS, VERBS, check_method, dialect
from .waiters import check_waiters, waiter

__all__ = ["build"]

_RESERVED_FIELDS = frozenset({"list", "dict", "str", "int", "float", "bool", "datetime", "Any"})
_METHOD_NAME = re.compile(r"^[a-z][A-Za-z0-9]*(\.[a-z][A-Za-z0-9]*)+$")
_SHAPE_NAME = re.compile(r"^[A-Z][A-Za-z0-9]*$")
_WIRE_NAME = re.compile(r"^[a-z_][a-z0-9_]*$")
_REST_WIRE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")  # REST APIs speak camelCase too
#: Module names a generated namespace class body reads (a method of that name would hide them).
_MODULE_NAMES = frozenset({"attrs", "datetime", "method", "specs"})
#: Keyword names every generated method takes besides the registry's arguments.
RESERVED_ARGS = EXTRAS  # the escape hatches every generated method takes


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


def build(files: Mapping[str, Any]) -> Registry:
    """Validate parsed YAML files into a :class:`Registry`, or raise :class:`RegistryError`."""
    p = Problems()
    shapes: dict[str, Shape] = {}
    raw_methods: dict[str, tuple[str, str, Mapping[str, Any]]] = {}
    helpers: dict[str, str] = {}
    waiters: dict[str, Waiter] = {}
    dialects: dict[str, Dialect] = {}
    pagination: dict[str, Mapping[str, Any]] = {}  # a REST API's default paginate: keys
    for file, doc in files.items():
        if not isinstance(doc, Mapping):
            p.add(file, "(file)", "(top)", "must be a mapping")
            continue
        unknown = set(doc) - {"api", "shapes", "methods", "namespaces", "waiters", "doc", "rest"}
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
        if "rest" in doc or file.startswith("peers/"):
            rest = dialect(p, file, api, doc.get("rest"))
            if rest is not None and api in dialects:
                p.add(file, "(file)", "api", f"another file already describes {api!r}")
            elif rest is not None:
                dialects[str(api)] = rest
                pagination[str(api)] = _pagination(p, file, doc["rest"].get("paginate"))
        elif methods and api not in ("web", "datacloud"):
            p.add(file, "(file)", "api", "must be 'web' or 'datacloud'")
        for name, body in methods.items():
            key = f"{api}:{name}" if file.startswith("peers/") else name  # a REST API's own
            if key in raw_methods:
                p.add(file, name, "(method)", f"duplicate method (also in {raw_methods[key][0]})")
                continue
            raw_methods[key] = (file, str(api), body if isinstance(body, Mapping) else {})
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
            entry = waiter(p, file, str(wname), wbody)
            if entry:
                waiters[entry.name] = entry
    built: dict[str, Method] = {}
    for key, (file, api, body) in raw_methods.items():
        name = key.rsplit(":", 1)[-1]
        alias_of = body.get("alias_of")
        if alias_of is not None and api in dialects:
            p.add(file, name, "alias_of", "a REST method has no legacy names")
            continue
        if alias_of is not None:
            target = raw_methods.get(str(alias_of))
            if target is None or "alias_of" in target[2]:
                what = "an alias" if target else "unknown method"
                p.add(file, name, "alias_of", f"{what} {alias_of!r}: name a method entry")
                continue
            body = {**target[2], **{k: v for k, v in body.items() if k != "alias_of"}}
        if api in pagination and "paginate" in body:  # the API's style, and the method's keys
            own = body["paginate"]
            merged = {**pagination[api], **(own if isinstance(own, Mapping) else {})}
            body = {**body, "paginate": merged if own is True or isinstance(own, Mapping) else own}
        method = _method(p, file, api, name, body, dialects.get(api))
        if method and alias_of is not None:  # one result class: the target's
            spec = attrs.evolve(
                method.spec, alias_of=str(alias_of), result=class_name(str(alias_of)) + "Result"
            )
            method = attrs.evolve(method, spec=spec)
        if method:
            built[key] = method
    _cross_check(p, shapes, built, helpers)
    check_waiters(p, waiters, built)
    if p.items:
        raise RegistryError(p.items)
    return Registry(shapes, built, helpers, waiters, dialects)


def _pagination(p: Problems, file: str, raw: Any) -> Mapping[str, Any]:
    """A REST API's ``rest.paginate``: the keys its list methods' ``paginate:`` start from."""
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        p.add(file, "(rest)", "rest.paginate", "must be a mapping of paginate keys")
        return {}
    for key in sorted(set(raw) - _PAGE_KEYS):
        p.add(file, "(rest)", f"rest.paginate.{key}", "unknown pagination key")
    return raw


def _field_spec(p: Problems, file: str, where: str, key: str, spec: Any) -> Field | None:
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
        doc = squash(spec.get("doc"))
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


def _shape(p: Problems, file: str, name: str, body: Any) -> Shape | None:
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
    return Shape(name, file, squash(body.get("doc")), tuple(fields))


def _method(
    p: Problems,
    file: str,
    api: str,
    name: str,
    body: Mapping[str, Any],
    rest: Dialect | None = None,
) -> Method | None:
    if not _METHOD_NAME.match(name):
        p.add(file, name, "(method)", "method names look like family.method (camelCase parts)")
        return None
    if py_name(name.rsplit(".", 1)[1]) in _MODULE_NAMES:
        p.add(file, name, "(method)", "this last part would hide a name of the generated module")
        return None
    known = _METHOD_KEYS | REST_METHOD_KEYS if rest else _METHOD_KEYS
    for key in sorted(set(body) - known):
        p.add(file, name, key, "unknown method key")
    http = body.get("http")
    verbs = VERBS if rest else ("GET", "POST")
    if http not in verbs:
        p.add(file, name, "http", f"must be {', '.join(verbs[:-1])} or {verbs[-1]}, got {http!r}")
        return None
    http = cast("Verb", http)
    args = []
    for aname, aspec in (body.get("args") or {}).items():
        arg = _arg(p, file, name, str(aname), aspec, rest)
        if arg:
            args.append(arg)
    path, success = check_method(p, file, name, body, args) if rest else (None, ())
    keywords = [py_name(a.name) for a in args]
    for a in args:
        if keywords.count(py_name(a.name)) > 1:
            p.add(file, name, f"args.{a.name}", f"another argument is also {py_name(a.name)}=")
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
    idempotent = body.get("idempotent", http in ("GET", "PUT", "DELETE"))
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
        summary=squash(body.get("summary")),
        page=page,
        deprecated=squash(body.get("deprecated")) or None,
        rate_limit=rate,
        upload=body.get("upload"),
        download=bool(body.get("download", False)),
        pending_error=body.get("pending_error"),
        idempotent_when=body.get("idempotent_when"),
        result=class_name(name) + "Result",
        bare_array=body.get("bare_array"),
        path_template=path,
        success=success,
        dialect=rest,
    )
    return Method(spec, file, tuple(result), result_type, body.get("example"))


def _arg(
    p: Problems, file: str, method: str, name: str, spec: Any, rest: Dialect | None = None
) -> ArgSpec | None:
    if not (_REST_WIRE_NAME if rest else _WIRE_NAME).match(name):
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
    places = ("auto", "query", "body", "path", "header") if rest else ("auto", "query", "body")
    if location not in places:
        p.add(file, method, f"args.{name}.in", "must be " + " or ".join(places[1:]))
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


def _scope(file: str) -> str:
    """Shapes are shared by DX's files, and private to each peer file."""
    return file if file.startswith("peers/") else "dx"


def _cross_check(
    p: Problems,
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
        own = {n for n, sh in shapes.items() if _scope(sh.file) == _scope(m.file)}
        used = set().union(
            *(f.type.shapes() for f in m.fields), *(arg_type(a).shapes() for a in m.spec.args)
        )
        for ref in sorted((used & set(shapes)) - own):
            p.add(m.file, m.name, "result", f"shape {ref!r} belongs to another API's file")
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
