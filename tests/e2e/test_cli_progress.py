"""The CLI's progress display: what one line says, live on a terminal, plain otherwise."""

from __future__ import annotations

import io

import anyio

from dxapi.cli._progress import Progress, Snapshot, render


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
