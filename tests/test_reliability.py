"""Bounded everything: deadlines over retries and limiter waits, Retry-After cap, pages, pool.

Also the small guarantees around them: a closed client stays closed, an upload from a file
object is retried with the same bytes, a body that trickles in still times out.
"""

from __future__ import annotations

import asyncio
import io
import os
import time
from collections.abc import AsyncIterator
from typing import Any

import anyio
import pytest
from aiohttp import web

import dxapi
from dxapi import Client, RateLimit, RetryPolicy, Timeout, TokenBucket
from dxapi._retry import Verdict, parse_retry_after
from dxapi.testing import FakeDX
from tests._faultserver import FastClock, Fault, FaultServer, http_date

FAST = RetryPolicy(max_retries=3, backoff=0.01, max_backoff=0.02)
E503 = Fault(503, b'{"ok": false, "error": "unavailable"}')


@pytest.fixture
async def srv() -> AsyncIterator[FaultServer]:
    async with FaultServer() as srv:
        yield srv


def client(srv: FaultServer, token: str, **options: Any) -> Client:
    options.setdefault("rate_limit", None)
    options.setdefault("retries", FAST)
    return Client(token=token, base_url=srv.url, **options)


# ------------------------------------------------------------------------------ defaults


def test_defaults_bound_everything() -> None:
    assert Timeout().deadline == 300.0
    assert Timeout().read == 60.0
    assert Timeout().connect == 10.0
    assert RetryPolicy().max_retry_after == 120.0
    assert RetryPolicy().max_retries == 4
    assert RetryPolicy().max_backoff == 30.0
    dx = Client(token="t" * 10, base_url="http://127.0.0.1:9")
    assert dx._session.max_connections == 100


# ------------------------------------------------------------------------------ deadline


async def test_deadline_covers_every_retry(srv: FaultServer, token: str) -> None:
    srv.default = E503
    policy = RetryPolicy(max_retries=1000, backoff=0.05, max_backoff=0.05)
    async with client(srv, token, retries=policy, timeout=Timeout(deadline=0.5)) as dx:
        clock = dx._session.clock = FastClock()  # the waits are counted, not slept
        with pytest.raises((dxapi.APIError, dxapi.RequestTimeoutError)):
            await dx.call("catalog.entities.info", identifier="a")
    # 1000 retries would wait 50 s: the waits stop where the deadline would be crossed.
    assert 0 < sum(clock.waits) <= 0.5
    assert len(srv.seen) == len(clock.waits) + 1 >= 2  # one attempt after each wait


async def test_deadline_covers_a_slow_answer(srv: FaultServer, token: str) -> None:
    srv.script([Fault(action="slow", delay=5.0)])
    async with client(srv, token, timeout=Timeout(read=30, deadline=0.3)) as dx:
        started = time.monotonic()
        with pytest.raises(dxapi.RequestTimeoutError) as info:
            await dx.call("catalog.entities.info", identifier="a")
        elapsed = time.monotonic() - started
    assert isinstance(info.value, TimeoutError)
    assert "deadline of 0.3 s" in str(info.value)  # the deadline ended it, not read=30
    assert elapsed < 2.5  # not the 5 s answer (half of it: room for a loaded machine)


async def test_deadline_covers_the_limiter_wait(token: str) -> None:
    bucket = TokenBucket(RateLimit(1, 60.0), FastClock())
    held = await bucket.acquire()  # every token in flight: the call must wait
    dx = Client(
        token=token, base_url="http://127.0.0.1:9", limiter=bucket, timeout=Timeout(deadline=0.2)
    )
    async with dx:
        with anyio.fail_after(10):  # nothing but the deadline can end the wait
            with pytest.raises(dxapi.RequestTimeoutError, match=r"deadline of 0\.2 s"):
                await dx.call("catalog.entities.info", identifier="a")
    assert bucket.in_flight == 1  # only the one we hold: the timed-out wait took nothing
    held.release()
    assert dx.stats["requests"] == 0


async def test_deadline_covers_a_paused_limiter(token: str) -> None:
    bucket = TokenBucket(RateLimit(10, 1.0))
    bucket.pause_for(3600)  # as after a 429 with a long Retry-After
    dx = Client(
        token=token, base_url="http://127.0.0.1:9", limiter=bucket, timeout=Timeout(deadline=0.2)
    )
    async with dx:
        with anyio.fail_after(10):  # the pause lasts an hour: only the deadline ends the wait
            with pytest.raises(dxapi.RequestTimeoutError, match=r"deadline of 0\.2 s"):
                await dx.call("catalog.entities.info", identifier="a")
    assert bucket.in_flight == 0


async def test_a_body_that_trickles_in_still_times_out(srv: FaultServer, token: str) -> None:
    """sock_read resets with every byte; the whole-body bound does not."""
    srv.script([Fault(action="trickle", delay=0.02)])
    timeout = Timeout(read=0.3, connect=1, deadline=None)
    async with client(srv, token, timeout=timeout, retries=0) as dx:
        with anyio.fail_after(10):  # the whole body would take minutes
            with pytest.raises(dxapi.RequestTimeoutError, match=r"took over 0\.3 s"):
                await dx.call("catalog.entities.info", identifier="a")


async def test_a_wait_that_would_cross_the_deadline_fails_at_once(
    srv: FaultServer, token: str
) -> None:
    """Retry-After 30 s is under the cap, but the call has 2 s left: the 429 is raised now."""
    srv.script([Fault(429, b"{}", headers=(("Retry-After", "30"),))])
    async with client(srv, token, timeout=Timeout(deadline=2.0)) as dx:
        clock = dx._session.clock = FastClock()
        with pytest.raises(dxapi.RateLimitError) as info:
            await dx.call("catalog.entities.info", identifier="a")
    assert info.value.retry_after == 30
    assert clock.waits == []  # at once: not even a wait until the deadline
    assert len(srv.seen) == 1


# -------------------------------------------------------------------------- Retry-After


async def test_retry_after_beyond_the_cap_raises_at_once(srv: FaultServer, token: str) -> None:
    srv.script(
        [Fault(429, b'{"ok": false, "error": "rate_limited"}', headers=(("Retry-After", "10"),))]
    )
    bucket = TokenBucket(RateLimit(100, 1.0))
    policy = RetryPolicy(max_retry_after=5, backoff=0.01)
    async with client(srv, token, retries=policy, limiter=bucket) as dx:
        clock = FastClock()
        dx._session.clock = clock
        with pytest.raises(dxapi.RateLimitError) as info:
            await dx.call("catalog.entities.upsert", identifier="a", type="service")
    err = info.value
    assert err.retry_after == 10
    assert err.status == 429
    assert err.method == "catalog.entities.upsert"
    assert "max_retry_after=5" in str(err)
    assert clock.waits == []
    assert len(srv.seen) == 1
    # Not waited for, so not imposed on every other task either: a token at once.
    assert bucket.try_acquire() is not None


async def test_retry_after_http_date_beyond_the_cap(srv: FaultServer, token: str) -> None:
    srv.script([Fault(429, b"{}", headers=(("Retry-After", http_date(600)),))])
    async with client(srv, token) as dx:
        with pytest.raises(dxapi.RateLimitError) as info:
            await dx.call("catalog.entities.info", identifier="a")
    assert info.value.retry_after is not None
    assert 590 < info.value.retry_after <= 600


async def test_429_keeps_the_servers_code_and_message(srv: FaultServer, token: str) -> None:
    body = b'{"ok": false, "error": "ratelimited", "message": "1000 per minute"}'
    srv.script([Fault(429, body, headers=(("Retry-After", "0"),))] * 10)
    async with client(srv, token, retries=RetryPolicy(max_retries=1, backoff=0.01)) as dx:
        with pytest.raises(dxapi.RateLimitError) as info:
            await dx.call("catalog.entities.info", identifier="a")
    assert info.value.error == "ratelimited"
    assert info.value.message == "1000 per minute"


async def test_a_429_pauses_the_whole_limiter(srv: FaultServer, token: str) -> None:
    """Another task's call waits out the Retry-After too, instead of collecting its own 429."""
    srv.script([Fault(429, b"{}", headers=(("Retry-After", "0.4"),))])
    async with client(srv, token, rate_limit=(100, 1.0)) as dx:
        first = asyncio.create_task(dx.call("catalog.entities.info", identifier="a"))
        while dx.stats["retries"] == 0:  # noqa: ASYNC110 - polling the client's counter
            await asyncio.sleep(0.005)
        second = await dx.call("catalog.entities.info", identifier="b")
        assert second["ok"] and (await first)["ok"]
    refused_at = srv.seen[0].at
    assert len(srv.seen) == 3
    assert min(s.at for s in srv.seen[1:]) - refused_at >= 0.35


async def test_5xx_retry_after_is_honoured_for_safe_methods(srv: FaultServer, token: str) -> None:
    srv.script([Fault(503, b"{}", headers=(("Retry-After", "7"),))])
    async with client(srv, token) as dx:
        clock = FastClock()
        dx._session.clock = clock
        assert (await dx.call("catalog.entities.info", identifier="a"))["ok"]
    assert clock.waits and clock.waits[0] >= 7


def test_parse_retry_after_forms() -> None:
    now = time.time()
    assert parse_retry_after("120", now) == 120
    assert parse_retry_after("-5", now) == 0
    assert parse_retry_after("soon", now) is None
    assert parse_retry_after("nan", now) is None
    assert parse_retry_after("inf", now) is None
    assert parse_retry_after(None, now) is None
    date = "Wed, 21 Oct 2015 07:28:00 GMT"
    when = 1445412480.0
    assert parse_retry_after(date, when - 30) == pytest.approx(30)
    # "-0000" parses as a naive datetime: still GMT, whatever the local zone.
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 -0000", when - 30) == pytest.approx(30)
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 +0100", when - 30 - 0) == 0


def test_decide_never_waits_past_the_cap() -> None:
    import random

    policy = RetryPolicy(max_retry_after=60, max_backoff=2)
    rng = random.Random(0)
    for attempt in range(1, 5):
        for outcome in (
            Verdict("rate_limited", None),
            Verdict("rate_limited", 59),
            Verdict("status", None),
            Verdict("not_sent"),
            Verdict("sent"),
        ):
            delay = policy.decide(attempt, outcome, idempotent=True, rng=rng)
            assert delay is not None and delay <= 61
    assert policy.decide(1, Verdict("rate_limited", 61), idempotent=True, rng=rng) is None
    assert policy.decide(1, Verdict("status", 61), idempotent=True, rng=rng) is None
    assert policy.decide(5, Verdict("not_sent"), idempotent=True, rng=rng) is None
    assert policy.decide(1, Verdict("sent"), idempotent=False, rng=rng) is None
    assert policy.decide(1, Verdict("status", 1), idempotent=False, rng=rng) is None


# ------------------------------------------------------------------------- pages, pool


async def test_max_pages_and_max_items_bound_an_iteration() -> None:
    async with FakeDX(entities=50) as fake, fake.client() as dx:
        pages = [p async for p in dx.catalog.entities.list(limit=5).pages(max_pages=3)]
        assert len(pages) == 3
        assert len(fake.requests) == 3
        fake.reset()
        items = [e async for e in dx.catalog.entities.list(limit=5).items(max_items=7)]
        assert len(items) == 7
        assert len(fake.requests) == 2
        fake.reset()
        raw = [
            p async for p in dx.paginate("catalog.entities.list", limit=5).raw_pages(max_pages=2)
        ]
        assert len(raw) == 2 and len(fake.requests) == 2


async def test_max_connections_caps_concurrent_connections(token: str) -> None:
    live = peak = 0

    async def handler(request: web.Request) -> web.Response:
        nonlocal live, peak
        live += 1
        peak = max(peak, live)
        await asyncio.sleep(0.02)
        live -= 1
        return web.json_response({"ok": True})

    app = web.Application()
    app.router.add_get("/catalog.entities.info", handler)
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    try:
        dx = Client(token=token, base_url=f"http://{host}:{port}", max_connections=3)
        async with dx:
            connector = dx._session.transport.pool().connector
            assert connector is not None and connector.limit == 3
            await asyncio.gather(
                *(dx.call("catalog.entities.info", identifier=str(i)) for i in range(30))
            )
        assert peak == 3
    finally:
        await runner.cleanup()
    with pytest.raises(ValueError):
        Client(token=token, base_url="http://127.0.0.1:9", max_connections=0)


# ------------------------------------------------------------------------- lifecycle


async def test_a_closed_client_stays_closed(srv: FaultServer, token: str) -> None:
    dx = client(srv, token)
    async with dx:
        assert (await dx.call("catalog.entities.info", identifier="a"))["ok"]
    with pytest.raises(dxapi.TransportError, match="closed"):
        await dx.call("catalog.entities.info", identifier="a")
    assert dx._session.transport._pool is None  # no new pool was opened behind the caller's back
    async with dx:  # re-entering opens it again
        assert (await dx.call("catalog.entities.info", identifier="a"))["ok"]


async def test_a_client_used_without_async_with_opens_lazily(srv: FaultServer, token: str) -> None:
    dx = client(srv, token)
    assert (await dx.call("catalog.entities.info", identifier="a"))["ok"]
    await dx.aclose()


# --------------------------------------------------------------------------- uploads


async def test_a_retried_upload_from_a_file_object_sends_the_same_bytes(
    tmp_path: Any,
) -> None:
    content = b"email\na@example.com\nb@example.com\n"
    path = tmp_path / "people.csv"
    path.write_bytes(content)
    async with FakeDX() as fake, fake.client(retries=FAST) as dx:
        fake.inject("orgfiles.upload", status=429, headers={"Retry-After": "0"})
        with open(path, "rb") as f:  # noqa: ASYNC230 - a tiny local file
            assert (await dx.call("orgfiles.upload", file=f))["ok"]
            assert not f.closed  # the caller's file is the caller's to close
        sent = [r.body["file"] for r in fake.requests_for("orgfiles.upload")]
        assert [s["content"] for s in sent] == [content, content]
        assert {s["filename"] for s in sent} == {"people.csv"}
        buffer = io.BytesIO(content)
        fake.inject("orgfiles.upload", status=503)  # not retried: upload is not idempotent
        with pytest.raises(dxapi.APIError):
            await dx.call("orgfiles.upload", file=buffer)
        fake.inject("orgfiles.upload", status=429, headers={"Retry-After": "0"})
        assert (await dx.call("orgfiles.upload", file=io.BytesIO(content)))["ok"]
        last_two = [r.body["file"]["content"] for r in fake.requests_for("orgfiles.upload")[-2:]]
        assert last_two == [content, content]


async def test_a_text_mode_upload_is_refused(tmp_path: Any) -> None:
    path = tmp_path / "people.csv"
    path.write_text("email\n")
    async with FakeDX() as fake, fake.client() as dx:
        with open(path) as f, pytest.raises(dxapi.ArgumentError, match="binary"):  # noqa: ASYNC230
            await dx.call("orgfiles.upload", file=f)
        assert fake.requests == []


# ------------------------------------------------------------------------------- TLS


@pytest.fixture
def self_signed(tmp_path: Any) -> Any:
    """A certificate and key for 127.0.0.1 that no trust store knows."""
    import shutil
    import ssl
    import subprocess

    if shutil.which("openssl") is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("openssl is not installed, and CI must run the TLS tests")
        pytest.skip("openssl is not installed (apt-get install openssl)")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context


async def test_a_rejected_certificate_fails_at_once(self_signed: Any, token: str) -> None:
    """A self-signed certificate is refused, and not retried: no repeat can fix it."""
    runner = web.AppRunner(web.Application(), access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=self_signed)
    await site.start()
    host, port = runner.addresses[0][:2]
    try:
        async with Client(token=token, base_url=f"https://{host}:{port}", retries=FAST) as dx:
            with pytest.raises(dxapi.TransportError, match=r"(?i)certificate"):
                await dx.call("catalog.entities.info", identifier="a")
            assert dx.stats["requests"] == 1
            assert dx.stats["retries"] == 0
    finally:
        await runner.cleanup()
