"""How a generated method's typed signature becomes one thin call into the session.

Each generated method is written once, with its precise keyword-only signature and docstring
(what type checkers, IDEs and ``help()`` read), and decorated with :func:`method`. The
decorator replaces it with ``def m(self, **args): return session.<call>(spec, Result, args)``
(``Result`` is named, and looked up in the method's module at each call: the first call builds
the class, see :mod:`dxapi._lazy`; later ones read a module attribute, about 30 ns).
Whatever the caller passed is checked as ``dx.call`` checks it (:mod:`dxapi._prepare`): every
unknown, missing or mistyped argument is named in one ``ArgumentError``; and the session's
coroutine is returned as is, without a coroutine layer of its own.
``inspect.signature`` and ``help()`` still show the typed signature (``__wrapped__``).

The reserved keywords ``extra_query``, ``extra_body`` and ``extra_headers`` travel inside
``args`` to the session like any other keyword.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import Any, TypeVar

from ._naming import py_name
from ._spec import MethodSpec

__all__ = ["method", "spec_of"]

F = TypeVar("F", bound=Callable[..., Any])


def method(spec: MethodSpec, result: str) -> Callable[[F], F]:
    """Decorate a generated signature: calls send ``spec`` and structure into the type named
    ``result`` in the signature's module."""

    def decorate(signature: F) -> F:
        module = sys.modules[signature.__module__]
        call = _caller(spec, functools.partial(getattr, module, result))
        functools.update_wrapper(call, signature)
        call.spec = spec  # type: ignore[attr-defined]
        return call  # type: ignore[return-value]

    return decorate


def _caller(spec: MethodSpec, result: Callable[[], Any]) -> Callable[..., Any]:
    call = _plain_caller(spec, result)
    # ``from_=`` in Python is ``from`` on the wire; ``team_id=`` is ``teamId``.
    renamed = {py_name(a.name): a.name for a in spec.args if py_name(a.name) != a.name}
    if not renamed:
        return call

    def call_renamed(self: Any, **args: Any) -> Any:
        return call(self, **{renamed.get(k, k): v for k, v in args.items()})

    return call_renamed


def _plain_caller(spec: MethodSpec, result: Callable[[], Any]) -> Callable[..., Any]:
    if spec.download:

        def call(self: Any, **args: Any) -> Any:
            return self._session.stream(spec, args)

    elif spec.page is not None:

        def call(self: Any, **args: Any) -> Any:
            return self._session.paginate(spec, result(), args)

    else:

        def call(self: Any, **args: Any) -> Any:
            return self._session.request(spec, result(), args)

    return call


def spec_of(bound: Callable[..., Any]) -> MethodSpec:
    """The :class:`MethodSpec` a generated method calls (``spec_of(dx.teams.info)``).

    A callable namespace (``dx.snapshots.dxi_scores``) answers for its ``__call__``.
    """
    spec = getattr(bound, "spec", None) or getattr(type(bound).__call__, "spec", None)
    if not isinstance(spec, MethodSpec):
        raise TypeError(f"{bound!r} is not a generated dxapi method")
    return spec
