"""The CLI's progress display: what one line says, live on a terminal, plain otherwise."""

from __future__ import annotations

import io

import anyio
import pytest

from dxapi.cli._progress import Progress, Snapshot, eta, fit, render


class FakeTTY(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_render_with_and_without_a_known_total() -> None:
    snap = Snapshot(items=1200, pages=24, requests=1300, refused=2, errors=3, total=10_000)
    line = render(snap, rate=16.44, item_rate=20.0, elapsed=75)
    assert line == (
        "1,200/10,000 items 12%  24 pages  16.4 req/s  2 429s  3 errors  ETA 7m20s  1m15s"
    )
    line = render(
        Snapshot(items=5, pages=1, requests=6, refused=0), rate=0, item_rate=0, elapsed=1
    )
    assert line == "5 items  1 pages  0.0 req/s  0 429s  1s"


async def test_live_line_on_a_terminal_and_nothing_when_quiet() -> None:
    count = 0

    def snapshot() -> Snapshot:
        return Snapshot(items=count, pages=1, requests=count, refused=0)

    tty = FakeTTY()
    progress = Progress(snapshot, tty, interval=0.01)
    with anyio.move_on_after(0.1):
        count = 10
        await progress.run()
    progress.finish()
    text = tty.getvalue()
    assert text.startswith("\r")
    assert "\x1b[K" in text
    assert text.count("\n") == 1
    assert "10 items" in text

    plain = io.StringIO()
    Progress(snapshot, plain).finish()
    assert plain.getvalue().endswith("items  1 pages  0.0 req/s  0 429s  0s\n")

    quiet = io.StringIO()
    silent = Progress(snapshot, quiet, enabled=False)
    await silent.run()
    silent.finish()
    assert quiet.getvalue() == ""


def test_eta_is_never_sooner_than_the_rate_limit_allows() -> None:
    # 1,000 items left at 100 items/s observed: 10 s, unless the limit is the bottleneck
    assert eta(1000, item_rate=100.0, requests_per_item=1.0, allowed=None) == 10.0
    assert eta(1000, item_rate=100.0, requests_per_item=1.0, allowed=1000 / 60) == pytest.approx(
        60.0
    )
    # two requests per item (a paginated per-item method) double the limiter's bound
    assert eta(1000, item_rate=100.0, requests_per_item=2.0, allowed=1000 / 60) == pytest.approx(
        120.0
    )
    # a fast limiter does not shorten the observed estimate
    assert eta(1000, item_rate=10.0, requests_per_item=1.0, allowed=1000.0) == 100.0
    assert eta(1000, item_rate=0.0, requests_per_item=1.0, allowed=10.0) == 100.0
    assert eta(1000, item_rate=0.0, requests_per_item=1.0, allowed=None) is None
    assert eta(0, item_rate=0.0, requests_per_item=1.0, allowed=None) == 0.0
    # tokens the window still holds go at once: only the requests beyond them wait
    assert eta(1000, item_rate=100.0, requests_per_item=1.0, allowed=10.0, free=400) == 60.0
    assert eta(100, item_rate=100.0, requests_per_item=1.0, allowed=10.0, free=400) == 1.0


def test_progress_counts_the_burst_left_in_the_window() -> None:
    requests = 0

    def snapshot() -> Snapshot:
        return Snapshot(items=requests, pages=2, requests=requests, refused=0, total=1500)

    progress = Progress(snapshot, io.StringIO(), rate_limit=(1000, 60.0))
    requests = 700  # a burst: 700 of the window's 1,000 tokens spent at once
    # 800 left: 300 go at once, 500 wait for the window (1000/60 s), however fast the burst
    assert "ETA 30s" in progress.line()


def test_render_bounds_the_eta_by_the_rate_limit() -> None:
    snap = Snapshot(items=1000, pages=10, requests=1000, refused=0, total=2000)
    # a burst made 1,000 items in 1 s, but 1000/60 leaves the other 1,000 for 60 s
    line = render(snap, rate=1000.0, item_rate=1000.0, elapsed=1, allowed=1000 / 60)
    assert "ETA 1m00s" in line


def test_narrow_terminal_line_never_wraps(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "40")
    snap = Snapshot(items=12_345, pages=124, requests=12_400, refused=7, errors=3, total=99_999)
    tty = FakeTTY()
    Progress(lambda: snap, tty, rate_limit=(10, 1.0)).draw()
    line = tty.getvalue().removeprefix("\r").removesuffix("\x1b[K")
    assert len(line) <= 39
    assert line == "12,345/99,999 items 12%  ETA 2h26m"  # ~88,000 requests at 10/s
    assert "\n" not in tty.getvalue()


def test_fit_leaves_out_the_least_useful_parts_first() -> None:
    parts = [("items", 0), ("pages", 5), ("ETA 1s", 1), ("2s", 6)]
    assert fit(parts, 80) == "items  pages  ETA 1s  2s"
    assert fit(parts, 15) == "items  ETA 1s"
    assert fit(parts, 4) == "ite…"
    assert fit(parts, None) == "items  pages  ETA 1s  2s"
