"""Client settings as frozen values, and where their defaults come from (arguments, then env)."""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import attrs

__all__ = [
    "DEFAULT_WEB_URL",
    "TOKEN_ALIASES",
    "Limits",
    "RateLimit",
    "Timeout",
    "check_link",
    "env_token",
    "resolve_base_url",
    "resolve_token",
]

DEFAULT_WEB_URL = "https://api.getdx.com"


@attrs.frozen
class RateLimit:
    """At most ``requests`` sends in any window of ``per`` seconds.

    ``margin`` is added to the window to absorb timing differences between this process and
    the server's counter. ``min_interval`` spaces sends out evenly instead of bursting, for
    services that share the account with other clients (see :meth:`smooth`).
    """

    requests: int = attrs.field(validator=attrs.validators.gt(0))
    per: float = attrs.field(validator=attrs.validators.gt(0))
    margin: float = attrs.field(default=0.05, validator=attrs.validators.ge(0))
    min_interval: float = attrs.field(default=0.0, validator=attrs.validators.ge(0))

    @classmethod
    def smooth(cls, requests: int, per: float, *, share: float = 1.0) -> RateLimit:
        """Send evenly at ``share`` of the allowed rate, never in bursts."""
        if not 0 < share <= 1:
            raise ValueError("share must be in (0, 1]")
        allowed = max(1, int(requests * share))
        return cls(allowed, per, min_interval=per / allowed)

    @classmethod
    def coerce(cls, value: RateLimit | tuple[int, float]) -> RateLimit:
        if isinstance(value, RateLimit):
            return value
        requests, per = value
        return cls(int(requests), float(per))


DX_RATE_LIMIT = RateLimit(1000, 60.0)


def _positive(instance: Any, attribute: Any, value: Any) -> None:
    if value is None and attribute.name in _OPTIONAL:
        return
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        none = " or None" if attribute.name in _OPTIONAL else ""
        raise ValueError(
            f"{type(instance).__name__}.{attribute.name} must be a number > 0{none}, got {value!r}"
        )


_OPTIONAL = frozenset({"deadline", "max_download_bytes"})


@attrs.frozen
class Timeout:
    """Time limits, each in seconds; every wait a call makes is bounded by one of them.

    - ``read``: one attempt, from sending to the last byte of the answer (headers that
      trickle in included); for a download, the longest silence between two chunks.
    - ``connect``: opening a connection.
    - ``deadline``: the whole call (every attempt, backoff, rate-limit wait and "not ready"
      poll); ``None`` leaves it unbounded (each attempt stays bounded by ``read``).
    - ``download``: the whole body of a download, however slowly it trickles in.
    """

    read: float = attrs.field(default=60.0, validator=_positive)
    connect: float = attrs.field(default=10.0, validator=_positive)
    deadline: float | None = attrs.field(default=300.0, validator=_positive)
    download: float = attrs.field(default=3600.0, validator=_positive)

    @classmethod
    def coerce(cls, value: Timeout | float) -> Timeout:
        return value if isinstance(value, Timeout) else cls(read=float(value))


@attrs.frozen
class Limits:
    """Size limits on what the server sends back.

    - ``max_response_bytes``: a JSON answer (default 64 MiB); a larger one raises
      :class:`~dxapi.ResponseTooLargeError` without being read further, and is not retried.
    - ``max_download_bytes``: a download's body (default 16 GiB, ``None`` for no limit).
    - ``max_redirects``: redirect hops a download follows, each checked like the first.
    """

    max_response_bytes: int = attrs.field(default=64 << 20, validator=_positive)
    max_download_bytes: int | None = attrs.field(default=16 << 30, validator=_positive)
    max_redirects: int = attrs.field(default=5, validator=attrs.validators.ge(0))


#: Other names of the token variables (those of DX's other SDK); the canonical name wins.
TOKEN_ALIASES: dict[str, tuple[str, ...]] = {
    "DX_API_TOKEN": ("DX_WEB_API_TOKEN",),
    "DX_DATACLOUD_TOKEN": ("DX_DATA_CLOUD_TOKEN",),
}


def env_token(env_var: str, env: Mapping[str, str] | None = None) -> str | None:
    """The token in ``$env_var``, else in the first of its aliases that is set."""
    env = os.environ if env is None else env
    for name in (env_var, *TOKEN_ALIASES.get(env_var, ())):
        if value := env.get(name):
            return value
    return None


def resolve_token(token: str | None, env_var: str, env: Mapping[str, str] | None = None) -> str:
    value = token if token is not None else env_token(env_var, env)
    if not value:
        names = " or $".join((env_var, *TOKEN_ALIASES.get(env_var, ())))
        raise ValueError(f"no token: pass token=... or set ${names}")
    if any(c in value for c in "\r\n"):
        raise ValueError("the token contains a line break")
    return value


def resolve_base_url(base_url: str) -> str:
    """Validate a base URL: https, or http only for loopback hosts. Trailing slashes go."""
    parts = urlsplit(base_url)
    if "@" in parts.netloc:
        from ._errors import ArgumentError

        # Not echoed: what precedes the "@" is a password.
        raise ArgumentError(
            "base_url",
            ["credentials in the URL (user:password@host) are refused; pass token=... instead"],
        )
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"base_url must be an http(s) URL, got {base_url!r}")
    if parts.scheme == "http" and not is_loopback(parts.hostname):
        raise ValueError(
            f"refusing plain http to {parts.hostname!r}: the token would travel unencrypted "
            "(http is allowed only for loopback hosts)"
        )
    return base_url.rstrip("/")


def check_link(url: str) -> str | None:
    """Why a download link (or one hop of its redirects) must not be followed, or None.

    https, or plain http to this machine only; never a link-local or cloud metadata
    address (169.254.0.0/16, fe80::/10, 100.100.100.200, fd00:ec2::254, metadata.*),
    never credentials in the URL.
    """
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:
        return f"refusing to follow a malformed link {url[:40]!r}"
    if parts.scheme not in ("http", "https") or not host:
        return f"refusing to follow a redirect to {url[:40]!r}"
    if "@" in parts.netloc:
        return f"refusing a download link with credentials in it (to {host!r})"
    if parts.scheme == "http" and not is_loopback(host):
        return f"refusing a plain-http download link to {host!r}"
    if _is_metadata(host):
        return f"refusing a download link to the link-local or metadata address {host!r}"
    return None


_METADATA_IPS = frozenset(
    ipaddress.ip_address(a) for a in ("100.100.100.200", "fd00:ec2::254", "169.254.169.254")
)


def _is_metadata(host: str) -> bool:
    name = host.strip("[]").rstrip(".").lower()
    if name == "metadata" or name.startswith("metadata."):
        return True
    try:
        address = ipaddress.ip_address(name)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_link_local or address in _METADATA_IPS


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
