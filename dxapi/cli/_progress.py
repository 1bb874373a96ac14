"""A small progress display: one live line on a terminal, periodic plain lines otherwise.

It only reads counters (a snapshot function); it never touches the work it reports on.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from typing import TextIO

import anyio
import attrs

__all__ = ["Progress", "Snapshot", "render"]


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


def render(snap: Snapshot, *, rate: float, item_rate: float, elapsed: float) -> str:
    """One status line, e.g. ``1,200/10,000 items 12%  24 pages  16.4 req/s  0 429s  ETA 9m``."""
    if snap.total:
        pct = min(100, 100 * snap.items // snap.total)
        items = f"{snap.items:,}/{snap.total:,} items {pct}%"
    else:
        items = f"{snap.items:,} items"
    parts = [items, f"{snap.pages:,} pages", f"{rate:.1f} req/s", f"{snap.refused} 429s"]
    if snap.errors:
        parts.append(f"{snap.errors:,} errors")
    if snap.total is not None and item_rate > 0:
        parts.append(f"ETA {_duration(max(0, snap.total - snap.items) / item_rate)}")
    parts.append(_duration(elapsed))
    return "  ".join(parts)


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
    ) -> None:
        self._snapshot = snapshot
        self._stream = stream
        self._enabled = enabled
        self._tty = stream.isatty()
        self._interval = interval if self._tty else plain_every
        self._start = time.monotonic()
        self._samples: deque[tuple[float, int, int]] = deque(maxlen=50)
        first = snapshot()
        self._samples.append((self._start, first.requests, first.items))
        self._drawn = False

    def line(self) -> str:
        now = time.monotonic()
        snap = self._snapshot()
        self._samples.append((now, snap.requests, snap.items))
        t0, r0, i0 = self._samples[0]
        span = now - t0
        rate = (snap.requests - r0) / span if span > 0 else 0.0
        item_rate = (snap.items - i0) / span if span > 0 else 0.0
        return render(snap, rate=rate, item_rate=item_rate, elapsed=now - self._start)

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
