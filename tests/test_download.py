"""Downloads: every redirect hop checked like the first, and every body bounded in time and size."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import re
import warnings
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import anyio
import anyio.from_thread
import anyio.lowlevel
import pytest

import dxapi
from dxapi import RetryPolicy, Timeout
from dxapi._transport import Request
from dxapi.testing import MockResponse, MockTransport
from tests._faultserver import Fault, FaultServer
from tests.test_query_runs import CSV, INFO, listing, run, sent


@pytest.fixture
async def dx(token: str) -> AsyncIterator[dxapi.Client]:
    async with dxapi.Client(token=token, retries=RetryPolicy(backoff=0.001)) as client:
        yield client


async def drain(dx: dxapi.Client, **options: Any) -> bytes:
    return b"".join([c async for c in dx.studio.query_runs.stream_csv("r1", **options)])


# ------------------------------------------------------------------------------ hops


@pytest.mark.parametrize(
    "target",
    [
        "https://169.254.169.254/latest/meta-data/",
        "https://[fe80::1]/x.csv",
        "https://100.100.100.200/latest/meta-data/",
        "https://metadata.google.internal/computeMetadata/v1/",
        "http://storage.example.net/r1.csv",
        "https://user:pw@storage.example.net/r1.csv",
        "ftp://storage.example.net/r1.csv",
    ],
)
async def test_a_redirect_from_the_link_host_is_checked_like_the_first(
    mocked: Any, dx: dxapi.Client, target: str
) -> None:
    mocked.get(INFO, payload=run("succeeded"))
    mocked.get(CSV, status=303, headers={"Location": "https://s.example.net/r1.csv"})
    mocked.get("https://s.example.net/r1.csv", status=302, headers={"Location": target})
    mocked.get(re.compile(".*"), body=b"secret,metadata\n", content_type="text/csv")
    with pytest.raises(dxapi.TransportError, match="refusing"):
        await drain(dx)
    assert not [c for c in sent(mocked) if target.split("/")[2] in c[1]]  # never fetched


@pytest.mark.parametrize(
    "target", ["https://169.254.169.254/latest/meta-data/", "https://[::ffff:169.254.1.1]/"]
)
async def test_a_first_link_to_a_metadata_address_is_refused(
    mocked: Any, dx: dxapi.Client, target: str
) -> None:
    mocked.get(INFO, payload=run("succeeded"))
    mocked.get(CSV, status=303, headers={"Location": target})
    with pytest.raises(dxapi.TransportError, match="metadata"):
        await drain(dx)


async def test_each_hop_goes_without_the_token(mocked: Any, dx: dxapi.Client, token: str) -> None:
    mocked.get(INFO, payload=run("succeeded"))
    mocked.get(CSV, status=303, headers={"Location": "https://a.example.net/r1.csv?sig=1"})
    mocked.get(
        "https://a.example.net/r1.csv?sig=1",
        status=307,
        headers={"Location": "/moved/r1.csv?sig=2"},  # relative to the link host
    )
    mocked.get("https://a.example.net/moved/r1.csv?sig=2", body=b"a\n1\n", content_type="text/csv")
    assert await drain(dx) == b"a\n1\n"
    calls = sent(mocked)
    assert [c[1] for c in calls[2:]] == [
        "https://a.example.net/r1.csv?sig=1",
        "https://a.example.net/moved/r1.csv?sig=2",
    ]
    for _, _, kwargs in calls[2:]:
        assert "Authorization" not in kwargs["headers"]
        assert token not in repr(kwargs)


async def test_a_redirect_chain_ends_at_max_redirects(mocked: Any, token: str) -> None:
    from dxapi import Limits

    mocked.get(INFO, payload=run("succeeded"))
    mocked.get(CSV, status=303, headers={"Location": "https://s.example.net/0"})
    for n in range(10):
        url = f"https://s.example.net/{n}"
        mocked.get(url, status=302, headers={"Location": f"https://s.example.net/{n + 1}"})
    async with dxapi.Client(token, limits=Limits(max_redirects=3)) as dx:
        with pytest.raises(dxapi.TransportError, match="more than 3 redirects"):
            await drain(dx)
    assert len([c for c in sent(mocked) if "s.example.net" in c[1]]) == 3


# ---------------------------------------------------------------------------- bounds


async def test_chunk_size_zero_is_refused_before_anything_is_sent(
    mocked: Any, dx: dxapi.Client
) -> None:
    mocked.get(CSV, body=b"x\n", content_type="text/csv", repeat=True)
    for bad in (0, -1, 1.5, True):
        with pytest.raises(dxapi.ArgumentError, match="chunk_size"):
            dx._session.stream(
                dx.methods()["studio.queryRuns.results"], {"id": "r1"}, chunk_size=bad
            )
    assert not sent(mocked)


def trickle(chunks: int, pause: float) -> Any:
    async def body() -> AsyncIterator[bytes]:
        for _ in range(chunks):
            yield b"x" * 100
            await asyncio.sleep(pause)

    return body()


async def test_a_download_that_trickles_in_ends_at_timeout_download(token: str) -> None:
    from dxapi.testing import MockResponse, MockTransport

    def handler(request: Any) -> MockResponse:
        if "queryRuns.info" in request.url:
            return MockResponse(json=run("succeeded", id=dict(request.query)["id"]))
        headers = {"Content-Type": "text/csv"}
        return MockResponse(body=trickle(10_000, 0.01), headers=headers)

    # Each chunk comes well within `read`; the whole never would.
    timeout = Timeout(read=5, download=0.3)
    async with dxapi.Client(token, transport=MockTransport(handler), timeout=timeout) as dx:
        with pytest.raises(dxapi.RequestTimeoutError, match=r"Timeout\.download"):
            await drain(dx)


async def test_a_real_download_that_trickles_in_ends_at_timeout_download(token: str) -> None:
    csv = Fault(200, b"id\n1\n" * 50, content_type="text/csv", action="trickle", delay=0.01)
    async with FaultServer() as srv:
        srv.script([csv])
        timeout = Timeout(read=5, connect=1, deadline=None, download=0.5)
        async with dxapi.Client(token, base_url=srv.url, timeout=timeout) as dx:
            spec = dx.methods()["studio.queryRuns.results"]
            with pytest.raises(dxapi.RequestTimeoutError, match=r"Timeout\.download"):
                async with asyncio.timeout(10):
                    async for _ in dx._session.stream(spec, {"id": "r1", "format": "csv"}):
                        pass


async def test_a_download_over_max_download_bytes_is_cut(token: str) -> None:
    from dxapi import Limits
    from dxapi.testing import MockResponse, MockTransport

    def handler(request: Any) -> MockResponse:
        if "queryRuns.info" in request.url:
            return MockResponse(json=run("succeeded", id=dict(request.query)["id"]))
        return MockResponse(body=[b"y" * 4096] * 100, headers={"Content-Type": "text/csv"})

    limits = Limits(max_download_bytes=10_000)
    async with dxapi.Client(token, transport=MockTransport(handler), limits=limits) as dx:
        with pytest.raises(dxapi.ResponseTooLargeError, match="10000 bytes"):
            await drain(dx)


# ------------------------------------------------------------------------- cancellation

OLD = b"the previous export\n"
ROWS = [b"id,name\n", *(f"{i},row {i}\n".encode() for i in range(5))]


class Csv:
    """A query run already done whose CSV trickles in: ``stall_after`` chunks, then nothing."""

    def __init__(self, stall_after: int | None = None, stall_run: bool = False) -> None:
        self.stall_after = stall_after
        self.stall_run = stall_run
        self.stalled = anyio.Event()

    async def handler(self, request: Request) -> MockResponse:
        if request.name == "studio.queryRuns.info":
            if self.stall_run:
                self.stalled.set()
                await anyio.sleep_forever()
            return MockResponse(json=run("succeeded", id=dict(request.query)["id"]))
        return MockResponse(body=self.body(), headers={"Content-Type": "text/csv"})

    async def body(self) -> AsyncIterator[bytes]:
        for i, chunk in enumerate(ROWS):
            if i == self.stall_after:
                self.stalled.set()
                await anyio.sleep_forever()
            await anyio.lowlevel.checkpoint()
            yield chunk


def _more_and_more() -> Iterator[int]:
    """0, 1, 2 … 9, 10, then 10 % more each time."""
    n = 0
    while True:
        yield n
        n = n + 1 if n < 10 else n * 11 // 10


@contextlib.contextmanager
def no_file_left_open() -> Iterator[None]:
    """Fail if a file object opened inside is garbage (an unclosed file warns when freed)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        yield
        gc.collect()
    assert [str(w.message) for w in caught if w.category is ResourceWarning] == []


@pytest.mark.parametrize(
    "stall",
    [{"stall_run": True}, {"stall_after": 0}, {"stall_after": 1}, {"stall_after": 4}],
    ids=["waiting-for-the-run", "before-the-body", "after-a-chunk", "before-the-last-chunk"],
)
async def test_a_cancelled_download_closes_its_file_and_leaves_the_old_one(
    token: str, tmp_path: Path, stall: dict[str, Any]
) -> None:
    csv = Csv(**stall)
    target = tmp_path / "out.csv"
    target.write_bytes(OLD)
    with no_file_left_open():
        async with (
            dxapi.Client(token, transport=MockTransport(csv.handler)) as dx,
            anyio.create_task_group() as tg,
        ):
            tg.start_soon(dx.studio.query_runs.download, "r1", target)
            await csv.stalled.wait()
            assert len(listing(tmp_path)) == 2  # the partial file beside the old one
            tg.cancel_scope.cancel()
    assert listing(tmp_path) == ["out.csv"]
    assert target.read_bytes() == OLD


async def test_a_download_cancelled_as_it_closes_its_file_still_closes_it(
    token: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The cancellation arrives during the last write to disk (the fsync), so it is pending
    as the file is closed: the close still happens, and the complete file replaces the old
    one (nothing is left that a cancellation could stop halfway)."""
    target = tmp_path / "out.csv"
    target.write_bytes(OLD)
    real = os.fsync
    with anyio.CancelScope() as scope:

        def fsync(fd: int) -> None:  # runs in a worker thread
            anyio.from_thread.run_sync(scope.cancel)
            real(fd)

        monkeypatch.setattr(os, "fsync", fsync)
        with no_file_left_open():
            async with dxapi.Client(token, transport=MockTransport(Csv().handler)) as dx:
                await dx.studio.query_runs.download("r1", target)
    assert scope.cancel_called
    assert listing(tmp_path) == ["out.csv"]
    assert target.read_bytes() == b"".join(ROWS)


async def test_a_download_cancelled_at_any_point_is_all_or_nothing(
    token: str, tmp_path: Path
) -> None:
    """Cancel after 0, 1, 2 … scheduler steps (ever more: the file's thread calls take many)
    until the download finishes first: each time the target is the old file or the whole new
    one, and nothing else is left behind."""
    target = tmp_path / "out.csv"
    outcomes = set()
    with no_file_left_open():
        async with dxapi.Client(token, transport=MockTransport(Csv().handler)) as dx:
            for steps in _more_and_more():
                target.write_bytes(OLD)
                finished: list[Path] = []

                async def download(run_id: str, finished: list[Path] = finished) -> None:
                    finished.append(await dx.studio.query_runs.download(run_id, target))

                async with anyio.create_task_group() as tg:
                    # a run of its own each time: the polls of one run are limited (10 per 5 s)
                    tg.start_soon(download, f"r{steps}")
                    for _ in range(steps):
                        await anyio.lowlevel.checkpoint()
                    tg.cancel_scope.cancel()
                assert listing(tmp_path) == ["out.csv"], steps
                assert target.read_bytes() == (b"".join(ROWS) if finished else OLD), steps
                outcomes.add(bool(finished))
                if finished:
                    break
    assert outcomes == {False, True}
