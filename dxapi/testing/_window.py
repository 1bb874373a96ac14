"""A true sliding-window limit counted on request arrival, and the counters tests assert on."""

from __future__ import annotations

import bisect
import math
from collections import Counter, deque

import attrs

__all__ = ["Counters", "SlidingWindow", "max_in_window", "retry_after_header"]


@attrs.define
class SlidingWindow:
    """At most ``requests`` admissions per key in any ``per`` seconds (half-open window)."""

    requests: int
    per: float
    _log: dict[str, deque[float]] = attrs.field(factory=dict, repr=False)

    def admit(self, key: str, now: float) -> float | None:
        """Admit one arrival at ``now``: None if admitted, else seconds until the window frees."""
        log = self._log.setdefault(key, deque())
        while log and log[0] <= now - self.per:
            log.popleft()
        if len(log) < self.requests:
            log.append(now)
            return None
        return max(log[0] + self.per - now, 0.0)

    def reset(self) -> None:
        self._log.clear()


def retry_after_header(wait: float) -> str:
    """Retry-After as whole seconds, rounded up (never 0: the window is still full now)."""
    return str(max(1, math.ceil(wait)))


def max_in_window(times: list[float], per: float) -> int:
    """The largest number of ``times`` (sorted) inside any half-open window of ``per`` s."""
    best = 0
    for i, start in enumerate(times):
        end = bisect.bisect_left(times, start + per, lo=i)
        best = max(best, end - i)
    return best


@attrs.define
class Counters:
    """What the fake has answered: for assertions on rate limiting and traffic."""

    accepted: int = 0
    refused_429: int = 0
    by_method: Counter[str] = attrs.field(factory=Counter)
    #: Arrival times (the fake's monotonic clock) of requests the account window accepted.
    arrivals: list[float] = attrs.field(factory=list)

    def max_in_window(self, per: float) -> int:
        """Most accepted arrivals in any window of ``per`` seconds."""
        return max_in_window(self.arrivals, per)

    def reset(self) -> None:
        self.accepted = self.refused_429 = 0
        self.by_method.clear()
        self.arrivals.clear()
