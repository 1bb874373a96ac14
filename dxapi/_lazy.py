"""Generated classes built on first use, so a process pays only for the types it touches.

A generated module defines its result classes as usual, ``@frozen(kw_only=True) class X:``;
an annotation that names a generated class is a string (``entity: "shapes.Entity"``). Type
checkers read ``frozen`` as ``attrs.frozen``; at run time it is :func:`frozen` here, which
only sets the plain class aside: its body costs microseconds, while attrs compiling its
``__init__``, ``__repr__`` and ``__eq__`` costs about half a millisecond a class.

The module's last line, ``build_on_first_use(globals())``, takes those classes out of its
namespace and gives the module a ``__getattr__`` (PEP 562) and ``__dir__``. The first look-up
of a name (``module.X``, ``from module import X``, pickle) builds the class: its string
annotations are evaluated in the module (a class of the same module, or of another one named
through it as ``shapes.Entity``, is built in turn), then ``attrs.frozen`` runs and the class
is stored in the module's globals, where later look-ups find it without a call. So every
consumer (isinstance, pickle, ``typing.get_type_hints``, cattrs, msgspec) sees an ordinary
frozen slotted attrs class with real annotations.

An older name of a result is ``Old: TypeAlias = "New"`` (or ``"module.New"``): the string is
resolved the same way, on first look-up of ``Old``. One thing cannot see a class before it is
built: ``typing.get_type_hints`` of a generated *async method* evaluates its return annotation
in the module's globals, so it resolves once the result class is built (any look-up builds it;
the sync twins name it as ``"aio.Result"`` and always resolve).
"""

from __future__ import annotations

import functools
import inspect
import threading
from collections.abc import Callable, Iterator, Mapping
from types import CodeType
from typing import TYPE_CHECKING, Any, TypeAlias, TypeVar

import attrs

__all__ = ["build_on_first_use", "frozen"]

C = TypeVar("C", bound=type)

#: Module name → {class name: (plain class, attrs options)}, until the module finishes.
_SET_ASIDE: dict[str, dict[str, tuple[type, dict[str, Any]]]] = {}
# Builds recurse (a class builds the classes its fields name) and may race across threads
# (the sync client's loop thread): one re-entrant lock keeps one class object per name.
_LOCK = threading.RLock()


if TYPE_CHECKING:  # what the class is once built
    from attrs import frozen as frozen
else:

    def frozen(**options: Any) -> Callable[[C], C]:
        """``attrs.frozen(**options)``, deferred until the class is first looked up."""

        def set_aside(cls: C) -> C:
            _SET_ASIDE.setdefault(cls.__module__, {})[cls.__name__] = (cls, options)
            return cls

        return set_aside


def build_on_first_use(namespace: dict[str, Any]) -> None:
    """Take the module's set-aside classes and aliases out of ``namespace``, and give it the
    ``__getattr__`` that builds a name on first look-up, and a ``__dir__`` that lists it."""
    module = namespace["__name__"]
    classes = _SET_ASIDE.pop(module, {})
    aliases = {
        name: namespace[name]
        for name, kind in namespace.get("__annotations__", {}).items()
        if kind in (TypeAlias, "TypeAlias") and isinstance(namespace.get(name), str)
    }
    for name in (*classes, *aliases):
        del namespace[name]
    lazy = _Lazy(namespace, classes, aliases)

    def __getattr__(name: str) -> Any:
        if name in lazy.names:
            return lazy[name]
        raise AttributeError(f"module {module!r} has no attribute {name!r}")

    def __dir__() -> list[str]:
        return sorted({*namespace, *lazy.names})

    namespace["__getattr__"], namespace["__dir__"] = __getattr__, __dir__


class _Lazy(Mapping[str, Any]):
    """One module's names still to build, as the mapping annotations are evaluated in."""

    def __init__(
        self,
        namespace: dict[str, Any],
        classes: dict[str, tuple[type, dict[str, Any]]],
        aliases: dict[str, str],
    ) -> None:
        self._namespace = namespace
        self._classes = classes
        self._aliases = aliases
        self.names = frozenset(classes) | frozenset(aliases)

    def __getitem__(self, name: str) -> Any:
        with _LOCK:
            if name in self._namespace:  # built by another thread, or earlier in a recursion
                return self._namespace[name]
            if name in self._aliases:
                value = self._eval(self._aliases[name])
            elif name in self._classes:
                cls, options = self._classes[name]
                hints = inspect.get_annotations(cls)
                cls.__annotations__ = {
                    k: self._eval(v) if isinstance(v, str) else v for k, v in hints.items()
                }
                value = attrs.frozen(**options)(cls)
                del self._classes[name]  # the plain class is not needed again
            else:
                raise KeyError(name)  # eval goes on to the module's globals and builtins
            self._namespace[name] = value
            return value

    def __iter__(self) -> Iterator[str]:
        return iter(self.names)

    def __len__(self) -> int:
        return len(self.names)

    def _eval(self, annotation: str) -> Any:
        value: Any = annotation
        while isinstance(value, str):  # "'X'": quoted in a module with postponed annotations
            value = eval(_compiled(value), self._namespace, self)
        return value


@functools.cache
def _compiled(annotation: str) -> CodeType:
    """Compiled once per distinct text (``str | None`` is in most classes)."""
    return compile(annotation, "<annotation>", "eval")
