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
from collections.abc import Callable, Mapping
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
    msgspec straight from its body into ``cls`` (or was, in the request loop); whatever
    msgspec refuses there takes the payload's way, so results and refusals stay those of
    :func:`decode`."""
    if isinstance(response, Result):  # decoded in the loop, answer and all
        return response  # type: ignore[return-value]
    result = getattr(response, "typed", None)
    if result is not None:  # taken: the result keeps its answer, not both ways (a cycle)
        object.__setattr__(response, "typed", None)
    elif not getattr(response, "decoded", True):
        result = from_body(cls, response.body)  # type: ignore[attr-defined]
    if isinstance(result, Result) and isinstance(result, cls):
        object.__setattr__(result, "_dx_response", response)
        return result
    return structure_result(
        spec, cls, response.payload, status=response.status, headers=response.headers
    )


def from_answer(cls: type[T], body: bytes) -> T | None:
    """A 2xx ``body`` as ``cls`` in one msgspec pass, when it is a JSON object whose ``ok``
    is not false and msgspec accepts it whole; else None (then the payload's way decides).

    The body is decoded into an envelope: a msgspec struct of ``ok`` and the result's own
    fields (their values decoded straight into the attrs shapes), whose fields then become
    the result's. So ``ok`` is read as JSON reads it (the last of repeated keys, any
    escape), and no second pass over the body is needed to learn it.
    """
    envelope = _ENVELOPES.get(cls, _UNBUILT)
    if envelope is _UNBUILT:
        envelope = _ENVELOPES[cls] = _envelope(cls)
    if envelope is None:
        return None
    decode, names = envelope
    try:
        top = decode(body)
    except msgspec.DecodeError:  # and its ValidationError
        return None
    if top.ok is False:
        return None
    result: T = object.__new__(cls)
    for name in names:
        object.__setattr__(result, name, getattr(top, name))
    return result


_UNBUILT: Any = object()
_ENVELOPES: dict[Any, tuple[Callable[[bytes], Any], tuple[str, ...]] | None] = {}


def _envelope(cls: Any) -> tuple[Callable[[bytes], Any], tuple[str, ...]] | None:
    """The envelope decoder of a result class and its field names; None for a class it cannot
    stand for (renamed fields, validators, hooks, a field named ``ok``, or a type msgspec
    cannot express)."""
    fields = attrs.fields(cls)
    if (
        not _fast(cls)
        or any(f.name == "ok" or f.validator or f.converter for f in fields)
        or hasattr(cls, "__attrs_pre_init__")
        or hasattr(cls, "__attrs_post_init__")
    ):
        return None
    hints = typing.get_type_hints(cls)
    spec: list[tuple[str, Any, Any]] = [("ok", Any, None)]
    for f in fields:
        if f.default is attrs.NOTHING:
            spec.append((f.name, hints[f.name], msgspec.NODEFAULT))
        elif isinstance(f.default, attrs.Factory):  # type: ignore[arg-type]
            if f.default.takes_self:
                return None
            spec.append((f.name, hints[f.name], msgspec.field(default_factory=f.default.factory)))
        else:
            spec.append((f.name, hints[f.name], f.default))
    try:
        top = msgspec.defstruct(f"{cls.__name__}Answer", spec, kw_only=True)
        decode = msgspec.json.Decoder(top).decode
    except TypeError:  # a type msgspec cannot express
        return None
    return decode, tuple(f.name for f in fields)


def from_body(cls: type[T], body: bytes) -> T | None:
    """``body`` (JSON) decoded by msgspec straight into ``cls``; None where msgspec refuses
    it (then the payload's way decides)."""
    if not _fast(cls):
        return None
    decoder = _DECODERS.get(cls)
    try:
        if decoder is None:
            decoder = _DECODERS[cls] = msgspec.json.Decoder(cls).decode
        result: T = decoder(body)
    except msgspec.DecodeError:  # and its ValidationError
        return None
    except TypeError:  # a type msgspec cannot express
        _FAST[cls] = False
        return None
    return result


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
