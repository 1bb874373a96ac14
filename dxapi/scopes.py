"""Which token scopes a set of methods needs, so a token can be made with least privilege.

::

    >>> import dxapi
    >>> sorted(dxapi.scopes.required(["catalog.entities.list", "teams.info"]))
    ['catalog:read', 'snapshots:read']
    >>> sorted(dxapi.scopes.required(["snapshots.settings"]))  # every method under it
    ['snapshots:admin']

Names are registry method names (``catalog.entities.list``) or namespace prefixes
(``catalog``, ``snapshots.dxiScores``). The facts come from the generated method specs,
which come from DX's documentation; a method whose scope DX does not document (``auth.info``,
``events.track``, which a PlatformX project token authenticates) adds nothing, and
:func:`undocumented` lists those so they are not silently forgotten.
"""

from __future__ import annotations

from collections.abc import Iterable

from ._generated.specs import METHODS
from ._spec import MethodSpec

__all__ = ["by_method", "required", "undocumented"]


def _select(names: Iterable[str] | str, api: str | None) -> list[MethodSpec]:
    wanted = [names] if isinstance(names, str) else list(names)
    specs = [s for s in METHODS.values() if api is None or s.api == api]
    chosen: dict[str, MethodSpec] = {}
    unknown = []
    for name in wanted:
        matches = [s for s in specs if s.name == name or s.name.startswith(name + ".")]
        if not matches:
            unknown.append(name)
        chosen.update((s.name, s) for s in matches)
    if unknown:
        where = f" of the {api} API" if api else ""
        raise ValueError(f"no methods{where} match: {', '.join(map(repr, unknown))}")
    return [chosen[n] for n in sorted(chosen)]


def scopes_of(spec: MethodSpec) -> tuple[str, ...]:
    """The scopes one method needs (some need two, e.g. ``snapshots.getFile``)."""
    return tuple(spec.scope.split()) if spec.scope else ()


def required(names: Iterable[str] | str, *, api: str | None = None) -> set[str]:
    """Every scope the given methods (or namespaces) need; ValueError names unknown ones."""
    return {scope for spec in _select(names, api) for scope in scopes_of(spec)}


def by_method(names: Iterable[str] | str, *, api: str | None = None) -> dict[str, tuple[str, ...]]:
    """Each matched method and the scopes it needs (empty when DX documents none)."""
    return {spec.name: scopes_of(spec) for spec in _select(names, api)}


def undocumented(names: Iterable[str] | str, *, api: str | None = None) -> list[str]:
    """The matched methods whose scope DX does not document (check these by hand)."""
    return [spec.name for spec in _select(names, api) if not spec.scope]
