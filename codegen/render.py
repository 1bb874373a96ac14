"""Registry → source text. Pure: returns ``{relative path: text}``; ``write`` does the I/O.

Generated methods are identical in form: typed keyword-only parameters (the registry's and the
three ``extra_*`` escape hatches), a docstring (summary, scope, arguments), and ``@method(spec,
"Result")``, which makes them one call into the session (:mod:`dxapi._methods`).

Result classes are ``@frozen`` (``attrs.frozen`` built on first use, :mod:`dxapi._lazy`). An
annotation naming a generated class is a string (a forward reference, resolved when needed),
and a class of another module is named through it (``"shapes.Entity"``), so importing a
module builds no class.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterable

from dxapi._spec import ArgSpec

from .model import Field, Method, Registry, Shape, Type, arg_type
from .naming import class_name, constant_name, py_name
from .specs_source import header, render_peer_specs, render_results, render_specs
from .validate import RESERVED_ARGS

__all__ = ["API_CLASSES", "render"]

#: The generated root mixin of each API, mounted by the hand-written clients.
API_CLASSES = {"web": "WebAPI", "datacloud": "DataCloudAPI"}
#: How a module other than ``shapes`` names a shape: through the module, built on first use.
_SHAPES = "shapes."
_API_FILES = {"web": "web.yaml", "datacloud": "datacloud.yaml"}


def render(reg: Registry) -> dict[str, str]:
    """Every generated file: DX's APIs, then each REST API under ``peers/<api>/``."""
    files = render_dx(reg.dx())
    if reg.dialects:
        files["peers/__init__.py"] = header("peers/*.yaml") + '"""REST APIs, by name."""\n'
    for api in sorted(reg.dialects):
        for rel, text in render_peer(reg.peer(api), api).items():
            files[f"peers/{api}/{rel}"] = text
    return files


def render_peer(reg: Registry, api: str) -> dict[str, str]:
    """One REST API's package: its specs, shapes, root class and namespaces."""
    pkg = f"dxapi._generated.peers.{api}"
    source = f"peers/{api}.yaml"
    families = _families(reg.methods_of(api))
    files = {
        "__init__.py": render_root(api, peer_root(api), families, source),
        "specs.py": render_peer_specs(reg, api),
        "shapes.py": render_shapes(reg, source),
    }
    for family, methods in families.items():
        files[f"{py_name(family)}.py"] = render_family(reg, api, family, methods, pkg, source)
    return files


def peer_root(api: str) -> str:
    """The generated root mixin of a REST API (``sigma`` → ``SigmaAPI``)."""
    return class_name(api) + "API"


def render_dx(reg: Registry) -> dict[str, str]:
    files = {
        "__init__.py": header("*.yaml") + '"""Code generated from the registry."""\n',
        "specs.py": render_specs(reg),
        "results.py": render_results(reg),
        "shapes.py": render_shapes(reg),
    }
    for api, root in API_CLASSES.items():
        families = _families(reg.methods_of(api))
        files[f"{api}/__init__.py"] = render_root(api, root, families)
        for family, methods in families.items():
            files[f"{api}/{py_name(family)}.py"] = render_family(reg, api, family, methods)
    return files


def _families(methods: Iterable[Method]) -> dict[str, list[Method]]:
    out: dict[str, list[Method]] = {}
    for m in methods:
        out.setdefault(m.family, []).append(m)
    return dict(sorted(out.items()))


# ----------------------------------------------------------------------------- types


def field_annotation(t: Type, shapes: str = "") -> str:
    """A type as a response field annotation (``shapes`` prefixes shape names)."""
    simple = {
        "str": "str",
        "int": "int",
        "float": "float",
        "bool": "bool",
        "json": "Any",
        "datetime": "datetime.datetime",
        "date": "datetime.date",
        "file": "bytes",
    }
    if t.kind in simple:
        return simple[t.kind]
    if t.kind == "list":
        return f"list[{field_annotation(t.items[0], shapes)}]"
    if t.kind == "map":
        return f"dict[str, {field_annotation(t.items[0], shapes)}]"
    if t.kind == "union":
        return " | ".join(field_annotation(x, shapes) for x in t.items)
    return shapes + t.name


def arg_annotation(t: Type, arg: ArgSpec | None = None, shapes: str = "") -> str:
    """A type as a method parameter annotation (accepting what a caller naturally has)."""
    if arg is not None and arg.enum:
        return "Literal[" + ", ".join(repr(e) for e in arg.enum) + "]"
    if t.kind == "datetime":
        return "datetime.datetime | str" + (" | int" if arg and arg.format != "iso" else "")
    if t.kind == "date":
        return "datetime.date | str"
    if t.kind == "file":
        return "FileInput"
    if t.kind == "list":
        return f"Sequence[{arg_annotation(t.items[0], shapes=shapes)}]"
    if t.kind == "map":
        return f"Mapping[str, {arg_annotation(t.items[0], shapes=shapes)}]"
    if t.kind == "union":
        return " | ".join(arg_annotation(x, shapes=shapes) for x in t.items)
    if t.kind == "shape":
        return f"{shapes}{t.name} | Mapping[str, Any]"
    return field_annotation(t, shapes)


# ----------------------------------------------------------------------------- shapes


def _attrs_class(
    name: str, doc: str, fields: Iterable[Field], base: str = "", shapes: str = ""
) -> str:
    head = f"class {name}({base}):" if base else f"class {name}:"
    lines = ["@frozen(kw_only=True)", head, f'    """{_oneline(doc)}"""', ""]
    body = []
    for f in sorted(fields, key=lambda f: (not f.required, f.name)):
        ann = field_annotation(f.type, shapes) + ("" if f.required else " | None")
        ann = forward(ann, bool(f.type.shapes()))
        attr = f.py_name
        alias = "" if attr == f.name else f", alias={f.name!r}"
        if f.required:
            line = f"    {attr}: {ann}" + (f" = attrs.field({alias[2:]})" if alias else "")
        else:
            line = f"    {attr}: {ann} = " + (
                f"attrs.field(default=None{alias})" if alias else "None"
            )
        if f.doc:
            body.append(f"    #: {f.doc}")
        body.append(line)
    return "\n".join(lines + (body or ["    pass"])) + "\n"


def forward(annotation: str, lazy: bool) -> str:
    """``annotation`` as a forward reference (a string) if it names a class built lazily."""
    return repr(annotation) if lazy else annotation


#: The last line of a module with ``@frozen`` classes (see dxapi._lazy).
_BUILD_ON_FIRST_USE = (
    "\n\nbuild_on_first_use(globals())  # each class is built when first looked up\n"
)


def _oneline(text: str) -> str:
    return text.replace('"""', "'''").rstrip(".") + "." if text else ""


def _sorted_shapes(shapes: dict[str, Shape]) -> list[Shape]:
    """Dependencies first (so annotations resolve at class creation), else by name."""
    done: list[Shape] = []
    seen: set[str] = set()

    def visit(name: str, stack: tuple[str, ...]) -> None:
        if name in seen or name in stack:
            return
        for f in shapes[name].fields:
            for dep in sorted(f.type.shapes()):
                visit(dep, (*stack, name))
        seen.add(name)
        done.append(shapes[name])

    for name in sorted(shapes):
        visit(name, ())
    return done


def render_shapes(reg: Registry, source: str = "shapes.yaml, web.yaml, datacloud.yaml") -> str:
    ordered = _sorted_shapes(dict(reg.shapes))
    classes = "\n\n".join(_attrs_class(s.name, s.doc, s.fields) for s in ordered)
    out = [
        header(source),
        '"""Named result shapes shared by many methods (frozen, slotted attrs classes, each\n'
        'built on first use: see dxapi._lazy)."""\n\n',
        "import datetime\nfrom typing import Any\n\n",
        "import attrs\n\n",
        "from dxapi._lazy import build_on_first_use, frozen\n\n",
        "__all__ = [" + ", ".join(repr(s.name) for s in sorted(ordered, key=lambda s: s.name)),
        "]\n\n\n",
    ]
    out.append(classes)
    out.append(_BUILD_ON_FIRST_USE if ordered else "# (no shapes)\n")
    return "".join(out)


# ---------------------------------------------------------------------------- clients


def render_root(
    api: str, root: str, families: dict[str, list[Method]], source: str | None = None
) -> str:
    imports = "".join(f"    from .{py_name(f)} import {class_name(f)}\n" for f in families)
    out = [
        header(source or _API_FILES[api]),
        f'"""The ``{api}`` API\'s namespaces, mounted lazily on the client."""\n\n',
        "import functools\nfrom typing import TYPE_CHECKING\n\n",
        "from dxapi._session import Session\n\n",
    ]
    if imports:
        out.append("if TYPE_CHECKING:\n" + imports + "\n")
    out.append(f"__all__ = ['{root}']\n\n\n")
    out.append(f"class {root}:\n")
    out.append(f'    """Method namespaces of the {api} API, created on first use."""\n\n')
    out.append("    _session: Session\n")
    for f in families:
        cls = class_name(f)
        out.append(
            f"\n    @functools.cached_property\n"
            f"    def {py_name(f)}(self) -> '{cls}':\n"
            f'        """``{f}.*`` methods."""\n'
            f"        from .{py_name(f)} import {cls}\n\n"
            f"        return {cls}(self._session)\n"
        )
    return "".join(out)


def _tree(methods: list[Method]) -> dict[str, list[str]]:
    """namespace path → child namespace paths (every dotted prefix is a namespace)."""
    tree: dict[str, list[str]] = {}
    for m in methods:
        parts = m.parts
        for i in range(1, len(parts)):
            tree.setdefault(".".join(parts[:i]), [])
        for i in range(1, len(parts) - 1):
            parent, child = ".".join(parts[:i]), ".".join(parts[: i + 1])
            if child not in tree[parent]:
                tree[parent].append(child)
    return tree


def render_family(
    reg: Registry,
    api: str,
    family: str,
    methods: list[Method],
    pkg: str = "dxapi._generated",
    source: str | None = None,
) -> str:
    by_ns: dict[str, list[Method]] = {}
    by_name = {m.name: m for m in methods}
    for m in methods:
        by_ns.setdefault(m.namespace, []).append(m)
    tree = _tree(methods)
    shapes_used: set[str] = set()
    for m in methods:
        for f in m.fields:
            shapes_used |= f.type.shapes()
        for a in m.spec.args:
            shapes_used |= arg_type(a).shapes()
    targets = {m.spec.alias_of for m in methods if m.spec.alias_of is not None}
    aliased = [reg.methods[n] for n in sorted(targets)]
    helpers = {
        path.split(":", 1)[1]: target
        for path, target in reg.helpers.items()
        if path.startswith(api + ":") and (path.split(":", 1)[1] + ".").startswith(family + ".")
    }
    waiters = {w.spec.poll: w for w in reg.waiters.values()}
    out = [
        header(source or _API_FILES[api]),
        "# mypy: disable-error-code=empty-body\n",
        f'"""``{family}.*`` methods of the {api} API and their result types.\n\n'
        "Each method is its typed signature and docstring; ``@method`` makes it one call into\n"
        "the session (see dxapi._methods). Result classes are built on first use (dxapi._lazy).\n"
        '"""\n\n',
        "import datetime\n",
        "from collections.abc import AsyncIterator, Mapping, Sequence\n",
        "from typing import Any, ClassVar, Literal, TypeAlias\n\n",
        "import attrs\n\n",
        "from dxapi._lazy import build_on_first_use, frozen\n",
        "from dxapi._methods import method\n",
        "from dxapi._pagination import CursorCall\n",
        "from dxapi._result import Result\n",
        "from dxapi._session import Session\n",
        "from dxapi._spec import UNSET, FileInput, Unset, WaiterSpec\n",
        f"from {pkg} import specs\n",
    ]
    if shapes_used:
        out.append(f"from {pkg} import shapes\n")
    for module in sorted({py_name(t.family) for t in aliased if t.family != family}):
        out.append(f"from {pkg}.{api} import {module}\n")
    for target in sorted(set(helpers.values())):
        module, cls = target.split(":")
        out.append(f"from {module} import {cls}\n")
    classes = [_result_class(m) for m in methods if not m.spec.alias_of]
    frozen = any(c.startswith("@frozen") for c in classes)
    out.append("\n\n")
    for m in methods:
        if m.spec.alias_of:
            of = reg.methods[m.spec.alias_of]
            where = "" if of.family == family else py_name(of.family) + "."
            classes.append(
                f"#: ``{m.name}`` is ``{m.spec.alias_of}`` under an older name.\n"
                f'{m.own_class}: TypeAlias = "{where}{m.result_class}"\n'
            )
    # Namespaces, deepest first so children exist before parents reference them.
    for path in sorted(tree, key=lambda p: (-p.count("."), p)):
        callable_method = by_name.get(path)
        own = by_ns.get(path, [])
        ns_waiters = sorted(
            w.name for w in waiters.values() if any(w.spec.poll == m.name for m in own)
        )
        classes.append(
            _namespace(path, tree[path], own, callable_method, helpers.get(path), ns_waiters)
        )
    lazy = frozen or any(m.spec.alias_of for m in methods)
    out.append("\n\n".join(classes))
    out.append(_BUILD_ON_FIRST_USE if lazy else "")
    return "".join(out)


def _result_class(m: Method) -> str:
    if m.result_type is not None:
        return (
            f"#: What ``{m.name}`` returns (loosely typed: its fields are not documented).\n"
            f"{m.own_class}: TypeAlias = "
            f"{forward(field_annotation(m.result_type, _SHAPES), bool(m.result_type.shapes()))}\n"
        )
    return _attrs_class(m.own_class, f"What ``{m.name}`` returns", m.fields, "Result", _SHAPES)


def _namespace(
    path: str,
    children: list[str],
    methods: list[Method],
    call: Method | None,
    helper: str | None,
    waiters: list[str],
) -> str:
    cls = class_name(path)
    base = f"({helper.split(':')[1]})" if helper else ""
    lines = [f"class {cls}{base}:", f'    """``{path}.*`` methods."""', ""]
    if waiters:  # the jobs this namespace starts and polls (dxapi._waiter)
        entries = ", ".join(f"{w!r}: specs.WAITER_{constant_name(w)}" for w in waiters)
        lines += [f"    _waiters: ClassVar[Mapping[str, WaiterSpec]] = {{{entries}}}", ""]
    lines += [
        "    def __init__(self, session: Session) -> None:",
        "        self._session = session",
    ]
    for child in sorted(children):
        name = py_name(child.rsplit(".", 1)[1])
        lines.append(f"        self.{name} = {class_name(child)}(session)")
    for m in sorted(methods, key=lambda m: m.name):
        if (call is not None and m.name == call.name) or m.name in children:
            continue  # a callable namespace (a child below, or this class's __call__)
        lines.append("")
        lines += _method(m, py_name(m.parts[-1]))
    if call is not None:
        lines.append("")
        lines += _method(call, "__call__")
    return "\n".join(lines) + "\n"


#: The escape hatches every method takes (sent as given; see registry/README.md).
_EXTRA_TYPES = {
    "extra_query": "Mapping[str, Any]",
    "extra_body": "Mapping[str, Any]",
    "extra_headers": "Mapping[str, str]",
}
EXTRA_PARAMS = tuple(f"{n}: {_EXTRA_TYPES[n]} | None = None" for n in RESERVED_ARGS)


def method_params(m: Method) -> list[tuple[str, str]]:
    """(python name, parameter text) of a method's typed arguments, required ones first."""
    params = []
    for a in sorted(m.spec.args, key=lambda a: (not a.required, a.name)):
        ann = arg_annotation(arg_type(a), a, _SHAPES) + ("" if a.required else " | Unset")
        ann += " | None" if a.nullable else ""  # None last, as ruff's RUF036 wants
        ann = forward(ann, bool(arg_type(a).shapes()))
        pname = py_name(a.name)
        params.append((pname, f"{pname}: {ann}" if a.required else f"{pname}: {ann} = UNSET"))
    return params


def _method(m: Method, name: str) -> list[str]:
    spec = m.spec
    params = [text for _, text in method_params(m)]
    item = m.item_type()
    if spec.download:
        ret, is_async = "AsyncIterator[bytes]", False
    elif spec.page and item is not None:
        ret, is_async = f"CursorCall[{m.own_class}, {field_annotation(item, _SHAPES)}]", False
    else:
        ret, is_async = m.own_class, True
    ret = forward(ret, not spec.download)
    sig = ["self", "*", *params, *EXTRA_PARAMS]
    head = f"    {'async ' if is_async else ''}def {name}("
    lines = [f'    @method(specs.{constant_name(m.name)}, "{m.own_class}")', head]
    lines += [f"        {p}," for p in sig] + [f"    ) -> {ret}:"]
    lines += _docstring(m)
    return lines


def _statuses(success: tuple[int, ...]) -> str:
    text = ", ".join(str(s) for s in success)
    return text + (" (no body)" if 204 in success else "")


def _wrap(text: str, indent: str) -> list[str]:
    return textwrap.wrap(text, 92 - len(indent), initial_indent=indent, subsequent_indent=indent)


def _docstring(m: Method) -> list[str]:
    ind = "        "
    spec = m.spec
    summary = spec.summary or f"Call ``{m.name}``."
    lines = [f'{ind}"""{_oneline(summary).replace(chr(92), chr(92) * 2)}', ""]
    facts = [f"Calls ``{spec.http} {m.name}``; scope: ``{spec.scope or 'none documented'}``."]
    if spec.dialect is not None:
        facts = [f"Calls ``{spec.http} {spec.path}``; succeeds with {_statuses(spec.success)}."]
    if spec.alias_of:
        facts.append(f"An older name of ``{spec.alias_of}``: the same arguments and answer.")
    if spec.page:
        facts.append(
            "Paginated: ``await`` it for the first page, ``async for`` it for every item."
        )
    if spec.download:
        facts.append("Streams the file's bytes (a redirect is followed without the token).")
    if spec.pending_error:
        facts.append(
            f"While DX answers ``{spec.pending_error}`` (not ready yet), waits its Retry-After "
            "and asks again, within the call's deadline."
        )
    if spec.rate_limit:
        r = spec.rate_limit
        facts.append(
            f"At most {r.requests} calls per {r.per:g} s per ``{r.key}``, held back client-side."
        )
    if spec.deprecated:
        facts.append(f"Deprecated: {spec.deprecated}")
    lines += _wrap(" ".join(facts), ind)
    lines += ["", f"{ind}Args:"]
    for a in sorted(spec.args, key=lambda a: (not a.required, a.name)):
        text = f"{py_name(a.name)}: {a.doc or arg_type(a).text()}"
        if a.default is not None:
            text += f" (server default: {a.default!r})"
        wrapped = textwrap.wrap(text, 84 - len(ind))
        lines += [ind + "    " + wrapped[0]] + [ind + "        " + w for w in wrapped[1:]]
    who = "DX" if spec.dialect is None else "the API"
    extras = (
        "extra_query, extra_body, extra_headers: sent as given beside the arguments above, "
        f"for what {who} accepts and the registry does not know yet."
    )
    wrapped = textwrap.wrap(extras, 84 - len(ind))
    lines += [ind + "    " + wrapped[0]] + [ind + "        " + w for w in wrapped[1:]]
    lines.append(f'{ind}"""')
    return [
        line.replace('"""', "'''") if i not in (0, len(lines) - 1) else line
        for i, line in enumerate(lines)
    ]
