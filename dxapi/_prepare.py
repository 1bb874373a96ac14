"""The prepare step of the request loop: checked arguments → the transport's :class:`Request`.

Pure apart from reading an upload's size: nothing is sent, no rate-limit token is spent. Any
problem is an :class:`~dxapi.ArgumentError` naming the method and every bad argument.

Two ways, one outcome: :func:`plain` builds the request of a plain call (declared arguments,
plain str/int/bool values, no escape hatch) in one pass; anything else, and every refusal,
is :func:`check` then :func:`prepare`, the full rules. A property test over every method
holds the two to the same requests.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from ._config import Limits, Timeout
from ._dialect import BEARER, Auth, auth_headers
from ._errors import ArgumentError
from ._spec import MethodSpec, check_args
from ._transport import Request
from ._upload import check_upload
from ._values import header_problems
from ._version import CLIENT_HEADERS, USER_AGENT
from ._wire import MAX_TARGET_BYTES, Encoding, check_json_body, encode_request, merge_headers

__all__ = [
    "LINK_HEADERS",
    "check",
    "check_default_headers",
    "client_headers",
    "link",
    "plain",
    "prepare",
]

#: Links are fetched as given: none of the client's headers, none of its credentials.
LINK_HEADERS = {"Accept": "text/csv, */*;q=0.5", "User-Agent": USER_AGENT}


def client_headers(
    token: str, auth: Auth = BEARER, defaults: Mapping[str, str] | None = None
) -> tuple[dict[str, str], dict[str, str]]:
    """The headers of a JSON call and of a download's API request, made once per client
    (the token as the API's ``auth`` scheme carries it; a client's ``default_headers`` over
    dxapi's own, under each call's ``extra_headers``)."""
    base = {**CLIENT_HEADERS, **auth_headers(auth, token)}
    json, file = {**base, "Accept": "application/json"}, {**base, "Accept": "*/*"}
    if defaults:
        extra = tuple(defaults.items())
        secret = {name.lower() for name in auth_headers(auth, token)}
        if clash := [name for name in defaults if name.lower() in secret]:
            raise ArgumentError("default_headers", [f"{clash[0]!r} carries the credentials"])
        json, file = merge_headers(json, extra), merge_headers(file, extra)
    return json, file


def check_default_headers(headers: Mapping[str, str] | None) -> dict[str, str]:
    """A client's ``default_headers``, checked as a call's ``extra_headers`` are."""
    if headers is None:
        return {}
    if not isinstance(headers, Mapping):
        raise TypeError(f"default_headers must be a mapping, got {type(headers).__name__}")
    problems = [
        p.replace("extra_headers", "default_headers").replace(" per call", "")
        for name, value in headers.items()
        for p in (
            header_problems(name, value)
            if isinstance(name, str)
            else [f"extra_headers has the key {name!r}, not a str"]
        )
    ]
    lower = [str(k).lower() for k in headers]
    problems += [f"default_headers sets {k!r} twice" for k in set(lower) if lower.count(k) > 1]
    if problems:
        raise ArgumentError("default_headers", problems)
    return dict(headers)


def check(spec: MethodSpec, args: Mapping[str, Any]) -> tuple[MethodSpec, dict[str, Any]]:
    """The arguments given (checked), and the spec as this call sees it."""
    given = check_args(spec, args)
    if spec.upload is not None and spec.upload in given:
        check_upload(spec, spec.upload, given[spec.upload])
    if spec.deprecated:
        _warn_deprecated(spec)
    if spec.idempotent_when is not None and spec.idempotent_when in given:
        spec = attrs.evolve(spec, idempotent=True)  # the key makes a repeat harmless
    return spec, given


def prepare(
    spec: MethodSpec,
    given: Mapping[str, Any],
    encoding: Encoding,
    base_url: str,
    headers: Mapping[str, str],
    timeout: Timeout,
    limits: Limits,
) -> tuple[Request, str]:
    """The request of one call, and its key for a per-key rate limit ("" when none)."""
    try:
        prepared = encode_request(spec, given, encoding)
    except ArgumentError:
        raise
    except (TypeError, ValueError) as exc:  # e.g. a set inside a json-typed argument
        raise ArgumentError(spec.name, [f"the arguments cannot be encoded: {exc}"]) from None
    if prepared.json:
        check_json_body(spec, prepared)
    key = str(given.get(spec.rate_limit.key, "")) if spec.rate_limit else ""
    request = Request(
        prepared.method,
        base_url + prepared.path,
        prepared.query,
        merge_headers(dict(headers), prepared.headers) if prepared.headers else headers,
        prepared.json,
        prepared.form,
        prepared.file,
        spec.name,
        timeout.connect,
        timeout.read,
        limits.max_response_bytes,
    )
    return request, key


def plain(
    spec: MethodSpec,
    args: Mapping[str, Any],
    encoding: Encoding,
    base_url: str,
    headers: Mapping[str, str],
    timeout: Timeout,
    limits: Limits,
) -> tuple[Request, str] | None:
    """The request of a plain call in one pass, as :func:`check` then :func:`prepare` would
    make it; None when any part of it needs their full rules (which then decide).

    A call is plain when its method allows it (:attr:`MethodSpec.plain`) and every argument
    it names is declared, given as an exact str (ASCII), int or bool its type takes (and in
    its enum, if any), with no escape hatch and every required argument there. Most calls
    are; a test holds the two ways to the same requests and refusals on every method.
    """
    rules = spec.plain
    if rules is None:
        return None
    query: list[tuple[str, str]] = []
    body: dict[str, Any] = {}
    size = required = 0
    for name, value in args.items():
        rule = rules.get(name)
        kind = type(value)
        if rule is None or kind not in rule.types:
            return None
        if kind is str:
            if not value.isascii():
                return None
            text = value
        elif kind is bool:
            text = "true" if value else "false"
        else:
            text = str(value)
        if rule.enum and value not in rule.enum:
            return None
        required += rule.required
        if rule.query:
            query.append((name, text))
            size += len(name) + len(text) + 2
        else:
            body[name] = value if encoding == "json" else text
    path = "/" + spec.name
    if required < spec.required or size * 12 + len(path) > MAX_TARGET_BYTES:
        return None  # the full rules name what is missing, or weigh the URL exactly
    json = form = None
    if body and spec.http != "GET":
        if encoding == "json":
            json = body
        else:
            form = tuple(body.items())
    key = str(args.get(spec.rate_limit.key, "")) if spec.rate_limit else ""
    request = Request(
        spec.http,
        base_url + path,
        tuple(query),
        headers,
        json,
        form,
        None,
        spec.name,
        timeout.connect,
        timeout.read,
        limits.max_response_bytes,
    )
    return request, key


def link(spec: MethodSpec, url: str, timeout: Timeout, limits: Limits) -> Request:
    """A request for a download link, exactly as given and without credentials."""
    return Request(
        "GET",
        url,
        headers=LINK_HEADERS,
        name=spec.name,
        connect=timeout.connect,
        read=timeout.read,
        max_bytes=limits.max_response_bytes,
        presigned=True,
    )


_warned: set[str] = set()


def _warn_deprecated(spec: MethodSpec) -> None:
    import warnings

    if spec.name not in _warned:
        _warned.add(spec.name)
        warnings.warn(f"{spec.name} is deprecated: {spec.deprecated}", DeprecationWarning, 5)
