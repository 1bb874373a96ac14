"""Registry → the blocking twins of the generated namespaces (``dxapi/_generated/sync/``).

Each sync namespace class mirrors its async one (same names, same parameters, same result
classes, as forward references through their modules: ``"aio.TeamsInfoResult"``,
``"shapes.Team"``, so nothing is built before it is used) and holds it: a method is one call
into :mod:`dxapi._sync`'s loop thread, e.g.
``return self._loop.run(self._ns.info, team_id=team_id)``, so mypy checks every forwarded
argument against the async signature. Annotations and docstrings come from :mod:`.render`.

A namespace with hand-written async helpers (``helpers: "module:Class"``) gets the sync
mixin ``dxapi._sync_helpers:SyncClass`` (one ``Blocking(...)`` line per helper method).
"""

from __future__ import annotations

import attrs

from .model import Method, Registry, arg_type
from .naming import class_name, py_name
from .render import (
    _API_FILES,
    _SHAPES,
    API_CLASSES,
    EXTRA_PARAMS,
    _docstring,
    _families,
    _tree,
    _wrap,
    field_annotation,
    forward,
    method_params,
)
from .specs_source import header
from .validate import RESERVED_ARGS

__all__ = ["SYNC_API_CLASSES", "render_sync", "sync_helper"]

#: The generated root mixin of each API's sync client.
SYNC_API_CLASSES = {api: "Sync" + root for api, root in API_CLASSES.items()}
_SYNC_HELPERS = "dxapi._sync_helpers"
_PAGINATED = (
    "Paginated: iterate it for every item, ``.first()`` for the first page, ``.pages()`` "
    "for each page."
)


def sync_helper(target: str) -> str:
    """The sync mixin of an async helper: ``mod:QueryRunHelpers`` → ``…:SyncQueryRunHelpers``."""
    return f"{_SYNC_HELPERS}:Sync{target.split(':', 1)[1]}"


def render_sync(reg: Registry) -> dict[str, str]:
    files = {"sync/__init__.py": header("*.yaml") + '"""Blocking namespaces (dxapi._sync)."""\n'}
    for api, root in SYNC_API_CLASSES.items():
        families = _families(reg.methods_of(api))
        files[f"sync/{api}/__init__.py"] = _root(api, root, list(families))
        for family, methods in families.items():
            files[f"sync/{api}/{py_name(family)}.py"] = _family(reg, api, family, methods)
    return files


def _root(api: str, root: str, families: list[str]) -> str:
    imports = "".join(f"    from .{py_name(f)} import {class_name(f)}\n" for f in families)
    out = [
        header(_API_FILES[api]),
        f'"""The ``{api}`` API\'s blocking namespaces, mounted lazily on the sync client."""\n\n',
        "import functools\nfrom typing import TYPE_CHECKING\n\n",
        f"from dxapi._generated.{api} import {API_CLASSES[api]}\n",
        "from dxapi._sync import LoopThread\n\n",
    ]
    if imports:
        out.append("if TYPE_CHECKING:\n" + imports + "\n")
    out.append(f"__all__ = ['{root}']\n\n\n")
    out.append(f"class {root}:\n")
    out.append(f'    """Blocking method namespaces of the {api} API, created on first use."""\n\n')
    out.append(f"    _loop: LoopThread\n    _aio: {API_CLASSES[api]}\n")
    for f in families:
        cls, attr = class_name(f), py_name(f)
        out.append(
            f"\n    @functools.cached_property\n"
            f"    def {attr}(self) -> '{cls}':\n"
            f'        """``{f}.*`` methods."""\n'
            f"        from .{attr} import {cls}\n\n"
            f"        return {cls}(self._loop, self._aio.{attr})\n"
        )
    return "".join(out)


def _family(reg: Registry, api: str, family: str, methods: list[Method]) -> str:
    module = py_name(family)
    by_ns: dict[str, list[Method]] = {}
    for m in methods:
        by_ns.setdefault(m.namespace, []).append(m)
    by_name = {m.name: m for m in methods}
    tree = _tree(methods)
    shapes: set[str] = set()
    for m in methods:
        for a in m.spec.args:
            shapes |= arg_type(a).shapes()
        item = m.item_type()
        if item is not None:
            shapes |= item.shapes()
    helpers = {
        path.split(":", 1)[1]: sync_helper(target)
        for path, target in reg.helpers.items()
        if path.startswith(api + ":") and (path.split(":", 1)[1] + ".").startswith(family + ".")
    }
    out = [
        header(_API_FILES[api]),
        f'"""Blocking ``{family}.*`` methods of the {api} API (see dxapi._sync)."""\n\n',
        "import datetime\n",
        "from collections.abc import Mapping, Sequence\n",
        "from typing import Any, Literal\n\n",
        f"from dxapi._generated.{api} import {module} as aio\n",
        "from dxapi._spec import UNSET, FileInput, Unset\n",
        "from dxapi._sync import LoopThread, SyncStream, SyncCursorCall, SyncNamespace\n",
    ]
    if shapes:
        out.append("from dxapi._generated import shapes\n")
    for target in sorted(set(helpers.values())):
        mod, cls = target.split(":")
        out.append(f"from {mod} import {cls}\n")
    out.append("\n\n")
    classes = [
        _namespace(path, tree[path], by_ns.get(path, []), by_name.get(path), helpers.get(path))
        for path in sorted(tree, key=lambda p: (-p.count("."), p))
    ]
    out.append("\n\n".join(classes))
    return "".join(out)


def _namespace(
    path: str, children: list[str], methods: list[Method], call: Method | None, helper: str | None
) -> str:
    cls = class_name(path)
    bases = f"SyncNamespace[aio.{cls}]" + (f", {helper.split(':')[1]}" if helper else "")
    lines = [f"class {cls}({bases}):", f'    """``{path}.*`` methods."""']
    if children:
        lines += [
            "",
            f"    def __init__(self, loop: LoopThread, ns: aio.{cls}) -> None:",
            "        super().__init__(loop, ns)",
        ]
        for child in sorted(children):
            name = py_name(child.rsplit(".", 1)[1])
            lines.append(f"        self.{name} = {class_name(child)}(loop, ns.{name})")
    for m in sorted(methods, key=lambda m: m.name):
        if (call is not None and m.name == call.name) or m.name in children:
            continue  # a callable namespace (a child below, or this class's __call__)
        lines += ["", *_method(m, py_name(m.parts[-1]))]
    if call is not None:
        lines += ["", *_method(call, "__call__")]
    return "\n".join(lines) + "\n"


def _method(m: Method, name: str) -> list[str]:
    params = method_params(m)
    passed = "".join(f", {p}={p}" for p, _ in params)
    passed += "".join(f", {e}={e}" for e in RESERVED_ARGS)
    target = "self._ns" if name == "__call__" else f"self._ns.{name}"
    item = m.item_type()
    if m.spec.download:
        ret, runner = "SyncStream[bytes]", "stream"
    elif m.spec.page and item is not None:
        ret = f"SyncCursorCall[aio.{m.own_class}, {field_annotation(item, _SHAPES)}]"
        runner = "paginate"
    else:
        ret, runner = f"aio.{m.own_class}", "run"
    ret = forward(ret, not m.spec.download)
    sig = ["self", "*", *(text for _, text in params), *EXTRA_PARAMS]
    lines = [f"    def {name}("] + [f"        {p}," for p in sig] + [f"    ) -> {ret}:"]
    lines += _sync_docstring(m)
    lines.append(f"        return self._loop.{runner}({target}{passed})")
    return lines


def _sync_docstring(m: Method) -> list[str]:
    """The async method's docstring, with the sync way to paginate."""
    if not m.spec.page:
        return _docstring(m)
    lines = _docstring(attrs.evolve(m, spec=attrs.evolve(m.spec, page=None)))
    end = next(i for i in range(2, len(lines)) if lines[i].strip() in ("", '"""'))
    facts = " ".join(line.strip() for line in lines[2:end])
    return lines[:2] + _wrap(f"{facts} {_PAGINATED}", "        ") + lines[end:]
