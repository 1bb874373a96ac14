"""Client settings as frozen values, and where their defaults come from (arguments, then env)."""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from urllib.parse import urlsplit

import attrs

__all__ = ["DEFAULT_WEB_URL", "RateLimit", "Timeout", "resolve_base_url", "resolve_token"]

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


@attrs.frozen
class Timeout:
    """Per-attempt limits (``connect``, ``read``: whole attempt) and the call's ``deadline``.

    The deadline covers every attempt, backoff and rate-limit wait of one call; ``None``
    leaves it unbounded (attempts stay bounded by ``read``).
    """

    read: float = 60.0
    connect: float = 10.0
    deadline: float | None = 300.0

    @classmethod
    def coerce(cls, value: Timeout | float) -> Timeout:
        return value if isinstance(value, Timeout) else cls(read=float(value))


def resolve_token(token: str | None, env_var: str, env: Mapping[str, str] | None = None) -> str:
    env = os.environ if env is None else env
    value = token if token is not None else env.get(env_var)
    if not value:
        raise ValueError(f"no token: pass token=... or set ${env_var}")
    if any(c in value for c in "\r\n"):
        raise ValueError("the token contains a line break")
    return value


def resolve_base_url(base_url: str) -> str:
    """Validate a base URL: https, or http only for loopback hosts. Trailing slashes go."""
    parts = urlsplit(base_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"base_url must be an http(s) URL, got {base_url!r}")
    if parts.scheme == "http" and not is_loopback(parts.hostname):
        raise ValueError(
            f"refusing plain http to {parts.hostname!r}: the token would travel unencrypted "
            "(http is allowed only for loopback hosts)"
        )
    return base_url.rstrip("/")


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
