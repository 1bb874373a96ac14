"""The REST dialect of the registry: a peer file's ``rest:`` block and its methods' wire keys.

:func:`dialect` builds the runtime's :class:`dxapi._dialect.Dialect` from the block;
:func:`check_method` checks a REST method's verb, path template, path arguments and success
statuses, naming file, method and key as every other registry check does.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from dxapi._dialect import Auth, Dialect, Envelope, RateHeaders
from dxapi._spec import ArgSpec

from .problems import Problems, squash

__all__ = ["REST_METHOD_KEYS", "VERBS", "check_method", "default_success", "dialect"]

VERBS = ("GET", "POST", "PUT", "PATCH", "DELETE")
#: Method keys only a REST method has.
REST_METHOD_KEYS = frozenset({"path", "success"})
_API_NAME = re.compile(r"^[a-z][a-z0-9]*$")
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
_BLOCK_KEYS = {
    *("doc", "base_url", "auth", "envelope", "rate_headers", "headers", "rate_limit", "paginate")
}
_ENVELOPE_KEYS = {"data", "status", "success", "code", "message"}
_RATE_KEYS = {"remaining", "reset", "limit", "reset_kind"}
_HEADER_NAME = re.compile(r"^[A-Za-z0-9-]+$")


def default_success(http: str) -> tuple[int, ...]:
    """The statuses a verb succeeds with unless ``success:`` says otherwise."""
    return {
        "GET": (200,),
        "POST": (200, 201),
        "PUT": (200, 201, 204),
        "PATCH": (200, 204),
        "DELETE": (200, 204),
    }[http]


def dialect(p: Problems, file: str, api: Any, raw: Any) -> Dialect | None:
    """The ``rest:`` block of ``file`` as a Dialect, or None after noting what is wrong."""
    where = "(rest)"
    if not isinstance(api, str) or not _API_NAME.match(api) or api in ("web", "datacloud"):
        p.add(file, "(file)", "api", "a REST API's name is lower-case letters and digits")
        return None
    if not isinstance(raw, Mapping):
        p.add(file, where, "rest", "must be a mapping (base_url, auth, envelope, ...)")
        return None
    for key in sorted(set(raw) - _BLOCK_KEYS):
        p.add(file, where, f"rest.{key}", "unknown key of a REST API")
    for key in ("base_url", "auth", "envelope"):
        if key not in raw:
            p.add(file, where, f"rest.{key}", "missing: every REST API declares it")
    base = raw.get("base_url")
    if not isinstance(base, str) or not base.startswith("https://"):
        p.add(file, where, "rest.base_url", "must be an https:// URL (with {placeholders})")
        base = ""
    auths = _auths(p, file, raw.get("auth"))
    env = raw.get("envelope")
    envelope = Envelope()
    if "envelope" in raw:
        if not isinstance(env, Mapping):
            p.add(file, where, "rest.envelope", "must be a mapping (data, code, message, ...)")
        else:
            for key in sorted(set(env) - _ENVELOPE_KEYS):
                p.add(file, where, f"rest.envelope.{key}", "unknown envelope key")
            success = env.get("success") or ()
            if env.get("status") and not success:
                p.add(file, where, "rest.envelope.success", "a status key needs its values")
            envelope = Envelope(
                data=env.get("data"),
                status=env.get("status"),
                success=tuple(str(s) for s in success),
                code=env.get("code"),
                message=env.get("message"),
            )
    rate = None
    if "rate_headers" in raw:
        r = raw["rate_headers"]
        if not isinstance(r, Mapping) or not {"remaining", "reset"} <= set(r):
            p.add(file, where, "rest.rate_headers", "needs remaining and reset header names")
        else:
            for key in sorted(set(r) - _RATE_KEYS):
                p.add(file, where, f"rest.rate_headers.{key}", "unknown rate header key")
            kind = r.get("reset_kind", "epoch")
            if kind not in ("epoch", "seconds"):
                p.add(file, where, "rest.rate_headers.reset_kind", "must be epoch or seconds")
                kind = "epoch"
            rate = RateHeaders(str(r["remaining"]), str(r["reset"]), r.get("limit"), kind)
    headers = raw.get("headers") or {}
    if not isinstance(headers, Mapping) or not all(
        isinstance(v, str) and _HEADER_NAME.match(v) for v in headers.values()
    ):
        p.add(file, where, "rest.headers", "must map argument names to header names")
        headers = {}
    secret = {a.header.lower() for a in auths}
    for arg, header in headers.items():
        if str(header).lower() in secret | {"content-type", "content-length", "host"}:
            p.add(file, where, f"rest.headers.{arg}", f"{header} is set by dxapi itself")
    limit = raw.get("rate_limit")
    default_rate = None
    if limit is not None:
        try:
            default_rate = (int(limit["requests"]), float(limit["per"]))
        except (KeyError, TypeError, ValueError):
            p.add(file, where, "rest.rate_limit", "needs requests and per (seconds)")
    return Dialect(
        name=api,
        base_url=base,
        auth=auths,
        envelope=envelope,
        rate_headers=rate,
        headers=tuple(sorted((str(k), str(v)) for k, v in headers.items())),
        rate_limit=default_rate,
        doc=squash(raw.get("doc")),
    )


def _auths(p: Problems, file: str, raw: Any) -> tuple[Auth, ...]:
    items = raw if isinstance(raw, list) else [raw] if raw is not None else []
    out = []
    for item in items:
        if item == "bearer":
            out.append(Auth())
        elif isinstance(item, Mapping) and set(item) == {"header"} and item["header"]:
            out.append(Auth("header", str(item["header"])))
        else:
            p.add(file, "(rest)", "rest.auth", f"{item!r}: use bearer or {{header: NAME}}")
    if raw is not None and not out:
        p.add(file, "(rest)", "rest.auth", "declare at least one scheme")
    return tuple(out) or (Auth(),)


def check_method(
    p: Problems, file: str, name: str, body: Mapping[str, Any], args: list[ArgSpec]
) -> tuple[str | None, tuple[int, ...]]:
    """(path template, success statuses) of a REST method, after noting what is wrong."""
    http = body.get("http")
    path = body.get("path")
    if not isinstance(path, str) or not path.startswith("/"):
        p.add(file, name, "path", "a REST method needs a path starting with /")
        return None, ()
    placeholders = _PLACEHOLDER.findall(path)
    declared = {a.name for a in args if a.location == "path"}
    for ph in placeholders:
        if ph not in declared:
            p.add(file, name, "path", f"{{{ph}}} is not declared as an argument with in: path")
    for a in args:
        if a.location == "path":
            if a.name not in placeholders:
                p.add(file, name, f"args.{a.name}", "declared in: path but not in the path")
            if not a.required or a.type not in ("str", "int"):
                p.add(file, name, f"args.{a.name}", "a path argument is a required str or int")
    if len(set(placeholders)) != len(placeholders):
        p.add(file, name, "path", "a placeholder appears twice")
    raw = body.get("success")
    if raw is None:
        success = default_success(str(http)) if http in VERBS else ()
    elif (
        isinstance(raw, list)
        and raw
        and all(isinstance(s, int) and not isinstance(s, bool) and 200 <= s < 300 for s in raw)
    ):
        success = tuple(raw)
    else:
        p.add(file, name, "success", "must be a list of 2xx statuses")
        success = ()
    return path, success
