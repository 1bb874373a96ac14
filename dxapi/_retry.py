"""When to try a request again, and how long to wait first. Pure: time and randomness come in.

The policy sees one failed attempt as a :class:`Verdict` and answers with a delay in seconds,
or ``None`` to stop. Safety rules:

- a 429 or a connection that was never made is always safe to repeat (DX did not act on it);
- 5xx, 408, timeouts, resets and broken bodies may have been acted on, so they are repeated
  only for idempotent methods (reads, and writes the registry marks idempotent).
"""

from __future__ import annotations

import datetime
import email.utils
import random
from typing import Literal

import attrs

from ._errors import DXError
from ._spec import WaitDelay

__all__ = ["AttemptFailed", "RetryPolicy", "Verdict", "parse_retry_after"]

RETRYABLE_STATUSES = frozenset({408, 500, 502, 503, 504})

VerdictKind = Literal[
    "rate_limited",  # 429
    "status",  # an HTTP status in RETRYABLE_STATUSES
    "not_sent",  # the connection was never made: the server cannot have acted
    "sent",  # reset, timeout or broken body after the request may have arrived
    "fatal",  # no repeat can help (e.g. the server's TLS certificate was rejected)
    "pending",  # the method's "not ready yet" error: ask again later
    "redirect",  # a download's answer points elsewhere (``location``)
    "stale_link",  # a download link failed before its first byte: ask DX for a fresh one
]


@attrs.frozen
class Verdict:
    kind: VerdictKind
    retry_after: float | None = None
    location: str | None = None


class AttemptFailed(Exception):
    """One attempt ended without an answer to return: what happened, and the error to raise
    if nothing more is tried. It carries no request or response object."""

    def __init__(self, outcome: Verdict, error: DXError) -> None:
        self.outcome = outcome
        self.error = error


@attrs.frozen
class RetryPolicy:
    """Retries with capped exponential backoff and full jitter, honoring Retry-After.

    ``max_retries`` counts retries across all causes of one call (attempts = retries + 1).
    A Retry-After above ``max_retry_after`` is not waited for: the call fails at once (with
    ``RateLimitError`` for a 429, the status's error for a 5xx) so the caller can decide.
    A job that is not ready yet (a method's ``pending_error``) is asked again after its
    Retry-After, but never after more than ``max_poll_interval`` seconds.
    """

    max_retries: int = attrs.field(default=4, validator=attrs.validators.ge(0))
    backoff: float = attrs.field(default=0.5, validator=attrs.validators.ge(0))
    max_backoff: float = attrs.field(default=30.0, validator=attrs.validators.ge(0))
    max_retry_after: float = attrs.field(default=120.0, validator=attrs.validators.ge(0))
    max_poll_interval: float = attrs.field(default=60.0, validator=attrs.validators.gt(0))

    def decide(
        self, attempt: int, outcome: Verdict, *, idempotent: bool, rng: random.Random
    ) -> float | None:
        """Seconds to wait before retry number ``attempt`` (1-based), or None to give up."""
        if attempt > self.max_retries or outcome.kind == "fatal":
            return None
        if outcome.kind == "rate_limited":
            if outcome.retry_after is not None:
                if outcome.retry_after > self.max_retry_after:
                    return None
                return outcome.retry_after + rng.uniform(0, min(1.0, self.backoff))
            return self.jittered(attempt, rng)
        if outcome.kind == "not_sent" or idempotent:
            if outcome.retry_after is not None:
                if outcome.retry_after > self.max_retry_after:
                    return None  # e.g. a 503 "back in an hour": as for a 429, the caller decides
                return max(outcome.retry_after, self.jittered(attempt, rng))
            return self.jittered(attempt, rng)
        return None

    def poll_delay(self, polls: int, retry_after: float | None) -> float:
        """Seconds before asking again after "not ready yet" number ``polls`` (1-based): the
        server's Retry-After, else 1 s growing to 10 s; never over ``max_poll_interval``."""
        if retry_after is not None and retry_after >= 0:
            return min(retry_after, self.max_poll_interval)
        return min(WaitDelay().after(polls), self.max_poll_interval)

    def jittered(self, attempt: int, rng: random.Random) -> float:
        """Full jitter: uniform in [0, min(cap, base * 2**(attempt-1))]."""
        return rng.uniform(0, min(self.max_backoff, self.backoff * 2 ** (attempt - 1)))

    @classmethod
    def coerce(cls, value: RetryPolicy | int) -> RetryPolicy:
        return value if isinstance(value, RetryPolicy) else cls(max_retries=int(value))


def parse_retry_after(value: str | None, now: float) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date), or None.

    ``now`` is the wall-clock time (``time.time()``) used for HTTP dates. Negative values
    become 0; unparseable ones are ignored.
    """
    if value is None:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
        if when.tzinfo is None:  # "-0000" parses naive; HTTP dates are always GMT
            when = when.replace(tzinfo=datetime.UTC)
        seconds = when.timestamp() - now
    if seconds != seconds or seconds in (float("inf"), float("-inf")):  # NaN / inf
        return None
    return max(0.0, seconds)
