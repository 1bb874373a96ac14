"""Every type a method returns, under its generated name, for annotations and look-ups.

``from dxapi.types import Entity, CatalogEntitiesInfoResult``: the shared shapes (frozen attrs
classes) and each method's ``<Name>Result``. A result type's module is imported, and the class
built, on first use (see dxapi._lazy), so importing this module stays cheap.
:func:`result_type` finds the type a method returns from its spec or its name, without
scanning modules.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._generated import shapes as _shapes_module
from ._generated.results import RESULTS
from ._spec import MethodSpec

if TYPE_CHECKING:
    from ._generated.results import *  # noqa: F403
    from ._generated.shapes import *  # noqa: F403

_shapes: list[str] = _shapes_module.__all__

__all__ = _shapes + list(RESULTS) + ["result_type"]


def result_type(method: MethodSpec | str) -> Any:
    """The type ``method`` (a spec or a name like ``"teams.info"``) returns.

    An attrs class for a typed result, ``dict[str, Any]`` for a loose one (``map<json>``).
    Raises ``KeyError`` for a method name the registry does not have.
    """
    if isinstance(method, str):
        from ._generated.specs import METHODS

        method = METHODS[method]
    if method.result is None:
        raise KeyError(f"{method.name} has no result type")
    return _load(method.result)


def _load(name: str) -> Any:
    module = RESULTS.get(name)
    value = getattr(_shapes_module if module is None else importlib.import_module(module), name)
    globals()[name] = value  # later look-ups are plain attribute reads
    return value


if not TYPE_CHECKING:

    def __getattr__(name: str) -> Any:
        if name in RESULTS or name in _shapes:
            return _load(name)
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

    def __dir__() -> list[str]:
        return sorted(set(globals()) | set(RESULTS) | set(_shapes))
