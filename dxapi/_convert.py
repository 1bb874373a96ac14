"""DX payloads into typed results, strictly: :func:`structure_result` is the one entry point.

A value must be of its declared JSON type: nothing is coerced across types (the rules are in
``registry/README.md``, "How answers are read"). Two decoders give the same answers and the
same refusals: msgspec, tried first because it is fast, and the strict cattrs converter of
:mod:`dxapi._strict`, which decides whenever msgspec refuses (a numeric timestamp, an enum
value DX added later, a renamed field) and explains a payload neither accepts as a
:class:`~dxapi.ResponseValidationError`. Unknown keys are ignored, and kept in the payload
every result carries (:func:`dxapi.raw`). A typed call's answer is decoded by msgspec
straight from its body (:func:`structure_answer`), its payload only when asked for. Loaded
with the first typed answer; cattrs only when msgspec refuses something, or a shape is
unstructured.
"""

from __future__ import annotations

import typing
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

import attrs
import msgspec

from ._response import Response
from ._result import Result
from ._spec import MethodSpec

if TYPE_CHECKING:
    import cattrs

    from ._strict import converter as converter

__all__ = ["decode", "structure", "structure_answer", "structure_result"]

T = TypeVar("T")


def structure_result(
    spec: MethodSpec,
    cls: type[T],
    payload: dict[str, Any],
    *,
    status: int | None,
    headers: Mapping[str, str] | None,
) -> T:
    """``payload`` (the answer to ``spec``) as ``cls``, or a ResponseValidationError.

    A result class (a generated ``<Name>Result``) keeps the :class:`~dxapi.Response` it was
    built from when ``status`` is known, for :func:`dxapi.raw` and :func:`dxapi.response_of`.
    """
    try:
        result = decode(payload, cls)
    except Exception:
        from ._strict import explain

        raise explain(spec, cls, payload, status, headers) from None
    if status is not None and isinstance(result, Result):
        object.__setattr__(result, "_dx_response", Response(status, headers or {}, payload))
    return result


def structure_answer(spec: MethodSpec, cls: type[T], response: Response) -> T:
    """A successful answer as ``cls``, keeping ``response``: like :func:`structure_result`,
    but an answer whose payload was not decoded yet (``_classify.Undecoded``) is decoded by
    msgspec straight from its body into ``cls``; whatever msgspec refuses there takes the
    payload's way, so results and refusals stay those of :func:`decode`."""
    body = getattr(response, "body", None)
    if body is not None and not response.decoded and _fast(cls):  # type: ignore[attr-defined]
        decoder = _DECODERS.get(cls)
        try:
            if decoder is None:
                decoder = _DECODERS[cls] = msgspec.json.Decoder(cls).decode
            result: T = decoder(body)
        except msgspec.DecodeError:  # and its ValidationError
            pass  # the payload's way decides
        except TypeError:  # a type msgspec cannot express
            _FAST[cls] = False
        else:
            if isinstance(result, Result):
                object.__setattr__(result, "_dx_response", response)
                return result
    return structure_result(
        spec, cls, response.payload, status=response.status, headers=response.headers
    )


def _fast(cls: Any) -> bool:
    fast = _FAST.get(cls)
    if fast is None:
        fast = _FAST[cls] = not _has_renames(cls, set())
    return fast


_DECODERS: dict[Any, Any] = {}


def decode(payload: Any, cls: type[T]) -> T:
    """``payload`` (decoded JSON) as ``cls``: msgspec when it accepts, else the strict rules."""
    if _fast(cls):
        try:
            return msgspec.convert(payload, cls)
        except msgspec.ValidationError:
            pass  # the strict rules decide
        except TypeError:  # a type msgspec cannot express (e.g. a union of two shapes)
            _FAST[cls] = False
    from ._strict import converter

    return converter.structure(payload, cls)


structure = decode

_FAST: dict[Any, bool] = {}


def _has_renames(t: Any, seen: set[Any]) -> bool:
    """msgspec reads attrs fields under their Python names: a renamed field is cattrs' job."""
    if t in seen:
        return False
    seen.add(t)
    if attrs.has(t):
        return any(a.alias != a.name or _has_renames(a.type, seen) for a in attrs.fields(t))
    return any(_has_renames(a, seen) for a in typing.get_args(t))


def __getattr__(name: str) -> cattrs.Converter:
    if name == "converter":  # built on first use: cattrs is slow to import
        from ._strict import converter

        return converter
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
