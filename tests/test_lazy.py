"""Generated classes are built on first use (dxapi._lazy), and are ordinary attrs classes."""

from __future__ import annotations

import pickle
import subprocess
import sys
import textwrap
import threading
import types
import typing
from collections.abc import Iterator
from typing import Any

import attrs
import pytest

import dxapi.types
from dxapi._generated import shapes
from dxapi._generated.results import RESULTS

# Prints every attrs class a generated module has built so far, as "module:Name".
_BUILT = """
import sys, attrs
built = sorted(
    f"{m}:{n}"
    for m, mod in list(sys.modules.items()) if m.startswith("dxapi._generated")
    for n, v in vars(mod).items()
    if isinstance(v, type) and attrs.has(v) and v.__module__ == m
)
print(" ".join(built))
"""


def _run(code: str) -> set[str]:
    out = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code) + _BUILT],
        capture_output=True,
        text=True,
        check=True,
    )
    return set(out.stdout.split())


def _reachable(cls: type) -> set[str]:
    """``cls`` and every generated class its annotations name, transitively."""
    seen: set[str] = set()

    def visit(t: Any) -> None:
        if isinstance(t, type) and attrs.has(t):
            key = f"{t.__module__}:{t.__name__}"
            if key not in seen:
                seen.add(key)
                for hint in typing.get_type_hints(t).values():
                    visit(hint)
        for arg in typing.get_args(t):
            visit(arg)

    visit(cls)
    return seen


def test_importing_dxapi_builds_no_result_class() -> None:
    assert _run("import dxapi\nimport dxapi.types\ndxapi.Client(token='t')\n") == set()


def test_one_typed_call_builds_only_the_classes_its_result_needs() -> None:
    built = _run(
        """
        import asyncio
        import dxapi
        from dxapi.testing import MockResponse, MockTransport

        entity = {"identifier": "svc", "type": "service", "owner_teams": [{"id": "t1"}]}
        transport = MockTransport(lambda request: MockResponse(json={"ok": True, "entity": entity}))

        async def main():
            async with dxapi.Client("t", transport=transport) as dx:
                result = await dx.catalog.entities.info(identifier="svc")
            assert result.entity.owner_teams[0].id == "t1", result

        asyncio.run(main())
        """
    )
    want = _reachable(dxapi.types.CatalogEntitiesInfoResult)
    assert "dxapi._generated.shapes:Entity" in want
    assert built == want
    assert len(built) < len(shapes.__all__)  # far from all of them


def test_every_public_type_resolves_to_a_frozen_slotted_attrs_class() -> None:
    for name in dxapi.types.__all__:
        if name == "result_type":
            continue
        cls = getattr(dxapi.types, name)
        if not isinstance(cls, type):  # a loosely typed result: dict[str, Any]
            assert typing.get_origin(cls) is dict, name
            continue
        assert attrs.has(cls), name
        assert "__slots__" in vars(cls) and "__dict__" not in vars(cls), name
        assert cls.__setattr__ is not object.__setattr__, name  # frozen
        owner = sys.modules[cls.__module__]
        assert getattr(owner, cls.__qualname__) is cls, name  # where pickle looks
        typing.get_type_hints(cls)  # every annotation resolves
        assert all(not isinstance(f.type, str) for f in attrs.fields(cls)), name
    assert set(RESULTS) <= set(dxapi.types.__all__)


def test_a_built_class_is_the_one_every_import_path_sees() -> None:
    from dxapi._generated.shapes import Entity
    from dxapi._generated.web.catalog import CatalogEntitiesInfoResult

    assert dxapi.types.Entity is Entity is shapes.Entity
    assert attrs.fields_dict(CatalogEntitiesInfoResult)["entity"].type is Entity
    assert dxapi.types.EntitiesInfoResult is CatalogEntitiesInfoResult  # an older name


def test_results_pickle_compare_and_repr_as_attrs_classes() -> None:
    Entity = dxapi.types.Entity
    result = dxapi.types.CatalogEntitiesInfoResult(
        entity=Entity(identifier="svc", type="service", owner_teams=[dxapi.types.Ref(id="t")])
    )
    again = pickle.loads(pickle.dumps(result))
    assert again == result and type(again) is type(result)
    assert repr(result).startswith("CatalogEntitiesInfoResult(entity=Entity(identifier='svc'")
    assert Entity.__doc__ and "entity" in Entity.__doc__.lower()
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        result.entity = None  # type: ignore[misc]


def test_a_fresh_process_unpickles_a_result_it_has_not_built_yet() -> None:
    result = dxapi.types.CatalogEntitiesInfoResult(
        entity=dxapi.types.Entity(identifier="svc", type="service")
    )
    code = (
        "import pickle, sys\nresult = pickle.loads(sys.stdin.buffer.read())\nprint(repr(result))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], input=pickle.dumps(result), capture_output=True, check=True
    )
    assert out.stdout.decode().strip() == repr(result)


# A module written the way codegen writes one, to test the mechanism by itself.
_SOURCE = '''
from typing import TypeAlias

from dxapi._lazy import build_on_first_use, frozen


@frozen(kw_only=True)
class Leaf:
    """A leaf."""

    n: int


@frozen(kw_only=True)
class Node:
    """A node."""

    leaves: "list[Leaf]"
    label: str | None = None


#: An older name.
OldNode: TypeAlias = "Node"

build_on_first_use(globals())
'''


@pytest.fixture(params=[True, False], ids=["as-generated", "postponed-annotations"])
def module(request: pytest.FixtureRequest) -> Iterator[types.ModuleType]:
    name = "tests._lazy_example"
    mod = types.ModuleType(name)
    sys.modules[name] = mod
    try:  # not inheriting this file's ``from __future__ import annotations``, or inheriting it
        exec(compile(_SOURCE, name, "exec", dont_inherit=request.param), vars(mod))
        yield mod
    finally:
        del sys.modules[name]


def test_a_class_is_built_on_first_look_up_with_what_it_names_first(
    module: types.ModuleType,
) -> None:
    assert {"Leaf", "Node", "OldNode"}.isdisjoint(vars(module))
    assert {"Leaf", "Node", "OldNode"} <= set(dir(module))
    node = module.Node
    assert {"Leaf", "Node"} <= set(vars(module)) and "OldNode" not in vars(module)
    assert attrs.fields_dict(node)["leaves"].type == list[module.Leaf]
    assert typing.get_type_hints(node) == {"leaves": list[module.Leaf], "label": str | None}
    assert module.OldNode is node
    assert node(leaves=[module.Leaf(n=1)]) == node(leaves=[module.Leaf(n=1)])


def test_an_unknown_name_is_an_attribute_error_naming_it(module: types.ModuleType) -> None:
    with pytest.raises(AttributeError, match=r"'tests\._lazy_example' has no attribute 'Nope'"):
        _ = module.Nope


def test_threads_racing_for_a_class_get_one_class(module: types.ModuleType) -> None:
    seen: list[type] = []
    start = threading.Barrier(8)

    def look_up() -> None:
        start.wait()
        seen.append(module.Node)

    threads = [threading.Thread(target=look_up) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(seen) == 8 and all(cls is seen[0] for cls in seen)
