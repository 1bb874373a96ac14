"""What every typed result keeps of the answer it was built from: ``raw()`` and ``response_of()``.

Imported by the generated result classes, so it stays free of cattrs and msgspec.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._response import Response

__all__ = ["Result", "raw", "response_of"]


class Result:
    """Base of the generated per-method result classes: one hidden slot for the answer.

    Set once, right after structuring (to the Response, or to its class, status, headers and
    body, made into one when first asked for); not a field, so equality, ``repr`` and
    ``attrs`` helpers ignore it.
    """

    __slots__ = ("_dx_response",)


def response_of(result: object) -> Response:
    """The answer a typed result was built from: status, headers (``X-RateLimit-*``, request
    ids) and the whole payload, unknown keys included."""
    try:
        response: Response | tuple[Any, ...] = result._dx_response  # type: ignore[attr-defined]
    except AttributeError:
        raise TypeError(
            f"{type(result).__name__} was not built by dxapi from an answer "
            "(only the result of a typed call or page keeps its response)"
        ) from None
    if type(response) is tuple:  # its class and parts, as the answer came: made on demand
        make, status, headers, body = response
        response = make(status, headers, body, {})
        object.__setattr__(result, "_dx_response", response)
    assert not isinstance(response, tuple)
    return response


def raw(result: object) -> dict[str, Any]:
    """The payload a typed result was built from, as DX sent it (do not mutate it).

    A loosely typed result (a method whose fields are undocumented) is the payload already.
    """
    if isinstance(result, dict):
        return result
    return response_of(result).payload
