"""The token never shows: not in reprs, logs, errors (and their chains), recordings or redirects."""

from __future__ import annotations

import logging
import traceback
from collections.abc import Iterator

import pytest

import dxapi
from dxapi import Client, RetryPolicy, Timeout
from dxapi._config import resolve_base_url
from dxapi._redact import REDACTED, RedactFilter, redact, remember_secret
from tests._faultserver import Fault, FaultServer, flaky_http

POLICY = RetryPolicy(max_retries=8, backoff=0.001, max_backoff=0.005)


def chain(exc: BaseException) -> Iterator[BaseException]:
    """The exception and everything hanging off it (cause, context, group members)."""
    seen: set[int] = set()
    todo = [exc]
    while todo:
        e = todo.pop()
        if id(e) in seen:
            continue
        seen.add(id(e))
        yield e
        todo += [x for x in (e.__cause__, e.__context__) if x is not None]
        todo += list(getattr(e, "exceptions", ()))


def assert_clean(exc: BaseException, token: str) -> None:
    text = "".join(traceback.format_exception(exc))
    assert token not in text
    for e in chain(exc):
        assert token not in str(e)
        assert token not in repr(e)
        assert token not in repr(vars(e)) if hasattr(e, "__dict__") else True
        info = getattr(e, "request_info", None)  # aiohttp errors keep the request's headers
        assert info is None, f"{type(e).__name__} carries request_info"
        if isinstance(exc, dxapi.DXError):
            assert not type(e).__module__.startswith("aiohttp"), f"chained {e!r}"
    # What an error reporter that captures locals would see of dxapi's frames.
    tb = exc.__traceback__
    while tb is not None:
        frame = tb.tb_frame
        if "/dxapi/" in frame.f_code.co_filename:
            for name, value in frame.f_locals.items():
                assert token not in repr(value), f"{frame.f_code.co_name}: local {name!r}"
        tb = tb.tb_next


async def test_reprs_hide_the_token(token: str) -> None:
    dx = Client(token=token, base_url="http://127.0.0.1:9")
    assert token not in repr(dx)
    assert token not in repr(dx._session)
    assert token not in str(vars(dx))
    clone = dx.with_options(timeout=5)
    assert token not in repr(clone) + repr(clone._session)
    async with dx:
        assert token not in repr(dx._session)


async def test_a_whole_run_of_faults_logs_and_raises_nothing_secret(
    token: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    faults = [
        Fault(503, b'{"ok": false}'),
        Fault(429, b"{}", headers=(("Retry-After", "0"),)),
        Fault(action="reset_mid_body"),
        Fault(action="close_before_answer"),
        Fault(200, b"<html>oops</html>", content_type="text/html"),
        Fault(200, b""),
    ]
    errors: list[BaseException] = []
    async with FaultServer() as srv, flaky_http(srv.port, refuse=1) as http:
        dx = Client(
            token=token,
            base_url=f"http://localhost:{srv.port}",
            session=http,
            retries=POLICY,
            timeout=Timeout(read=0.2, connect=1, deadline=10),
        )
        srv.script(faults)
        for _ in range(3):  # the first call is retried through every fault
            assert (await dx.call("catalog.entities.info", identifier="a"))["ok"]
        for fault in [
            *faults,
            Fault(401, b'{"ok": false, "error": "invalid_auth"}'),
            Fault(429, b"{}", headers=(("Retry-After", "900"),)),
            Fault(action="slow", delay=2.0),
        ]:
            srv.script([fault])
            try:
                await dx.call("catalog.entities.create", identifier="b", type="service")
            except dxapi.DXError as exc:
                errors.append(exc)
        with pytest.raises(dxapi.ArgumentError) as bad:
            await dx.call("catalog.entities.info", identifier=1)
        errors.append(bad.value)
        refused = Client(
            token=token,
            base_url="http://127.0.0.1:9",
            retries=RetryPolicy(max_retries=1, backoff=0.001),
        )
        async with refused:
            with pytest.raises(dxapi.TransportError) as down:
                await refused.call("catalog.entities.info", identifier="a")
        errors.append(down.value)
        assert all(s.headers["authorization"] == f"Bearer {token}" for s in srv.seen)
    assert len(errors) >= 9
    for error in errors:
        assert_clean(error, token)
    assert caplog.records, "expected debug/info lines about attempts and retries"
    assert any("retry" in r.getMessage() for r in caplog.records)
    for record in caplog.records:
        assert token not in record.getMessage()
    assert token not in caplog.text


async def test_fakedx_records_no_token_and_downloads_go_without_it() -> None:
    from dxapi.testing import FakeDX

    async with FakeDX(entities=3, host="127.0.0.1", query_run_seconds=0.0) as fake:
        port = fake.url.rsplit(":", 1)[1]
        # The API host is "localhost"; the CSV host is 127.0.0.1: another host.
        async with Client(token=fake.token, base_url=f"http://localhost:{port}") as dx:
            await dx.call("catalog.entities.list")
            started = await dx.call("studio.queryRuns.execute", sql="SELECT 1")
            run_id = started["query_run"]["id"] if "query_run" in started else started["id"]
            chunks = [c async for c in dx.studio.query_runs.stream_csv(run_id)]
            assert b"".join(chunks)
        for seen in [*fake.requests, *fake.csv_requests]:
            assert fake.token not in repr(seen)
        assert fake.csv_requests, "the download went to the CSV host"
        for seen in fake.csv_requests:
            assert "authorization" not in {k.lower() for k in seen.headers}


@pytest.mark.parametrize(
    "url",
    [
        "http://api.getdx.com",
        "http://10.0.0.1:8080",
        "http://localhost.evil.example",
        "http://127.0.0.1.nip.io",
        "ftp://127.0.0.1",
        "https://",
    ],
)
def test_plain_http_refused_beyond_loopback(url: str, token: str) -> None:
    with pytest.raises(ValueError) as info:
        Client(token=token, base_url=url)
    assert token not in str(info.value)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080",
        "http://localhost/",
        "http://[::1]:9",
        "http://127.0.0.9",
        "https://api.getdx.com",
    ],
)
def test_loopback_and_https_allowed(url: str) -> None:
    assert resolve_base_url(url) == url.rstrip("/")


def test_token_with_a_line_break_is_refused() -> None:
    with pytest.raises(ValueError) as info:
        Client(token="abc\r\nX-Evil: 1", base_url="http://127.0.0.1:9")
    assert "abc" not in str(info.value)


def test_redact_filter_on_the_dxapi_logger(token: str, caplog: pytest.LogCaptureFixture) -> None:
    log = logging.getLogger("dxapi")
    assert any(isinstance(f, RedactFilter) for f in log.filters)
    handle = remember_secret(token)
    caplog.set_level(logging.DEBUG, logger="dxapi")
    log.debug("headers: %s", {"Authorization": f"Bearer {token}"})
    log.info("token is %s", token)
    log.warning("proxy said: authorization: bearer sk_live_abcdef123")
    try:
        raise RuntimeError(f"boom Bearer {token}")
    except RuntimeError:
        log.exception("failed")
    text = caplog.text
    assert token not in text
    assert "sk_live_abcdef123" not in text
    assert text.count(REDACTED) >= 4
    del handle


def test_redact_leaves_ordinary_text_alone() -> None:
    assert redact("catalog.entities.info: HTTP 503") == "catalog.entities.info: HTTP 503"
    assert remember_secret("short") is None  # too short to redact safely
