"""A small progress display: one live line on a terminal, periodic plain lines otherwise.

It only reads counters (a snapshot function); it never touches the work it reports on. The
live line is fitted to the terminal's width (it never wraps), and its ETA is never sooner than
the rate limit allows (:func:`eta`).
"""

from __future__ import annotations

import shutil
import time
from collections import deque
from collections.abc import Callable
from typing import TextIO

import anyio
import attrs

__all__ = ["Progress", "Snapshot", "eta", "fit", "render"]


@attrs.frozen
class Snapshot:
    items: int
    pages: int
    requests: int
    refused: int  # 429 answers
    errors: int = 0
    total: int | None = None


def _duration(seconds: float) -> str:
    seconds = int(seconds + 0.5)
    if seconds >= 3600:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    if seconds >= 60:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds}s"


def eta(
    remaining: int,
    *,
    item_rate: float,
    requests_per_item: float,
    allowed: float | None,
    free: int = 0,
) -> float | None:
    """Seconds until ``remaining`` items are done, None when nothing tells yet.

    The observed ``item_rate`` (items/s) is the estimate, but never sooner than the rate
    limit permits: of the ``remaining * requests_per_item`` requests, those beyond the
    ``free`` tokens the window still holds go at ``allowed`` requests/s. When the limiter is
    the bottleneck (its burst spent), that bound is the ETA.
    """
    if remaining <= 0:
        return 0.0
    bounds = []
    if item_rate > 0:
        bounds.append(remaining / item_rate)
    if allowed:
        bounds.append(max(0.0, remaining * max(requests_per_item, 0.0) - free) / allowed)
    return max(bounds) if bounds else None


def render(
    snap: Snapshot,
    *,
    rate: float,
    item_rate: float,
    elapsed: float,
    allowed: float | None = None,
    free: int = 0,
    width: int | None = None,
) -> str:
    """One status line, e.g. ``1,200/10,000 items 12%  24 pages  16.4 req/s  0 429s  ETA 9m``.

    ``allowed`` (requests/s) and ``free`` (tokens left in the window) bound the ETA by the rate
    limit (:func:`eta`); ``width`` fits the line.
    """
    if snap.total:
        pct = min(100, 100 * snap.items // snap.total)
        items = f"{snap.items:,}/{snap.total:,} items {pct}%"
    else:
        items = f"{snap.items:,} items"
    # (text, rank): a narrow line leaves out the highest ranks first
    parts = [(items, 0), (f"{snap.pages:,} pages", 5), (f"{rate:.1f} req/s", 3)]
    parts.append((f"{snap.refused} 429s", 4))
    if snap.errors:
        parts.append((f"{snap.errors:,} errors", 2))
    if snap.total is not None:
        per_item = snap.requests / snap.items if snap.items else 1.0
        left = eta(
            snap.total - snap.items, item_rate=item_rate, requests_per_item=per_item,
            allowed=allowed, free=free,
        )  # fmt: skip
        if left is not None:
            parts.append((f"ETA {_duration(left)}", 1))
    parts.append((_duration(elapsed), 6))
    return fit(parts, width)


def fit(parts: list[tuple[str, int]], width: int | None) -> str:
    """The texts joined by two spaces within ``width`` columns: the highest-ranked parts are
    left out first (elapsed time, pages, 429s, req/s), then the line is cut with ``…``."""
    keep = list(parts)
    while width is not None and len(keep) > 1 and len("  ".join(t for t, _ in keep)) > width:
        keep.remove(max(keep, key=lambda part: part[1]))
    line = "  ".join(text for text, _ in keep)
    if width is not None and len(line) > width:
        line = line[: width - 1] + "…" if width > 0 else ""
    return line


class Progress:
    """Redraw a status line every ``interval`` (TTY) or print one every ``plain_every``."""

    def __init__(
        self,
        snapshot: Callable[[], Snapshot],
        stream: TextIO,
        *,
        enabled: bool = True,
        interval: float = 0.2,
        plain_every: float = 5.0,
        rate_limit: tuple[int, float] | None = None,
    ) -> None:
        """``rate_limit``: the client's (requests, seconds), which bounds the ETA."""
        self._snapshot = snapshot
        self._limit = rate_limit
        self._stream = stream
        self._enabled = enabled
        self._tty = stream.isatty()
        self._interval = interval if self._tty else plain_every
        self._start = time.monotonic()
        self._samples: deque[tuple[float, int, int]] = deque(maxlen=50)
        first = snapshot()
        self._samples.append((self._start, first.requests, first.items))
        #: (time, requests) over the last rate-limit window: what is left of its burst.
        self._window: deque[tuple[float, int]] = deque([(self._start, first.requests)])
        self._drawn = False

    def line(self) -> str:
        now = time.monotonic()
        snap = self._snapshot()
        self._samples.append((now, snap.requests, snap.items))
        t0, r0, i0 = self._samples[0]
        span = now - t0
        rate = (snap.requests - r0) / span if span > 0 else 0.0
        item_rate = (snap.items - i0) / span if span > 0 else 0.0
        allowed, free = self._budget(now, snap.requests)
        # A live line one column short of the terminal never wraps (nor scrolls at the edge).
        width = shutil.get_terminal_size().columns - 1 if self._tty else None
        return render(
            snap, rate=rate, item_rate=item_rate, elapsed=now - self._start,
            allowed=allowed, free=free, width=width,
        )  # fmt: skip

    def _budget(self, now: float, requests: int) -> tuple[float | None, int]:
        """The limit's rate (requests/s) and the tokens its window has not spent yet."""
        if self._limit is None:
            return None, 0
        limit, per = self._limit
        self._window.append((now, requests))
        while len(self._window) > 1 and self._window[1][0] <= now - per:
            self._window.popleft()
        return limit / per, max(0, limit - (requests - self._window[0][1]))

    def draw(self) -> None:
        if not self._enabled:
            return
        if self._tty:
            self._stream.write("\r" + self.line() + "\x1b[K")
            self._drawn = True
        else:
            self._stream.write(self.line() + "\n")
        self._stream.flush()

    async def run(self) -> None:
        """Draw until cancelled (run it in the task group of the work it watches)."""
        if not self._enabled:
            return
        while True:
            await anyio.sleep(self._interval)
            self.draw()

    def finish(self) -> None:
        """Draw the last state and leave the line in place."""
        if not self._enabled:
            return
        if self._tty:
            self._stream.write("\r" + self.line() + "\x1b[K\n")
        else:
            self._stream.write(self.line() + "\n")
        self._stream.flush()
