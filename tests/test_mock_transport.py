"""MockTransport runs the whole pipeline without sockets, with the real transport's outcomes.

Every row of the fault matrix (``tests/test_fault_matrix.py`` runs it on the real transport)
runs here on :class:`dxapi.testing.MockTransport`, whose handler replays the row's faults the
way a network would; the redaction checks run on both transports.
"""

from __future__ import annotations

import asyncio
import pickle
import traceback
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import attrs
import pytest

import dxapi
from dxapi import Client, RateLimit, Timeout, TokenBucket
from dxapi.testing import MockResponse, MockTransport
from tests._faultserver import FastClock, Fault, FaultServer
from tests.test_fault_matrix import POLICY, TIMEOUT, Row, args_for, cases, check


def replay(faults: list[Fault], refuse: int = 0) -> tuple[MockTransport, list[Any]]:
    """A MockTransport answering as FaultServer would with this script; and what arrived."""
    script = list(faults)
    arrived: list[Any] = []
    refusals = [refuse]

    async def handler(request: Any) -> MockResponse:
        if refusals[0] > 0:
            refusals[0] -= 1
            raise ConnectionRefusedError(111, "Connection refused")
        arrived.append(request)
        fault = script.pop(0) if script else Fault()
        if fault.action in ("reset_mid_body", "close_before_answer"):
            raise ConnectionResetError(104, "Connection reset by peer")
        if fault.action == "slow":
            await asyncio.sleep(fault.delay)
        headers = {"Content-Type": fault.content_type, **dict(fault.headers)}
        return MockResponse(fault.status, body=fault.body, headers=headers)

    return MockTransport(handler), arrived


@pytest.mark.parametrize(("row", "kind"), cases())
async def test_fault_matrix_on_mock_transport(row: Row, kind: str, token: str) -> None:
    transport, arrived = replay(row.faults(), refuse=row.refuse)
    clock = FastClock()
    bucket = TokenBucket(RateLimit(100, 1.0), clock)
    dx = Client(
        token=token,
        base_url="https://dx.example.com",
        transport=transport,
        retries=POLICY,
        timeout=TIMEOUT,
        limiter=bucket,
    )
    dx._session.clock = clock
    await check(dx, clock, row, kind, args_for(kind))
    assert len(arrived) == row.expect[kind].requests
    assert bucket.in_flight == 0
    assert len({(r.method, r.url, r.query, str(r.json)) for r in arrived}) <= 1
    assert all(r.headers["Authorization"] == f"Bearer {token}" for r in arrived)


async def test_mock_transport_sees_the_prepared_request(token: str) -> None:
    seen: list[Any] = []

    def handler(request: Any) -> MockResponse:
        seen.append(request)
        return MockResponse(json={"ok": True, "entity": {"identifier": "a", "name": "A"}})

    async with Client(token, transport=MockTransport(handler)) as dx:
        entity = (await dx.catalog.entities.info(identifier="a")).entity
        await dx.call("catalog.entities.create", identifier="b", type="service")
    assert entity.identifier == "a"
    assert [(r.method, r.url) for r in seen] == [
        ("GET", "https://api.getdx.com/catalog.entities.info"),
        ("POST", "https://api.getdx.com/catalog.entities.create"),
    ]
    assert seen[0].query == (("identifier", "a"),)
    assert seen[1].json == {"identifier": "b", "type": "service"}
    assert seen[0].headers["User-Agent"].startswith("dxapi/")
    assert token not in repr(seen[0])


# ------------------------------------------------------------------------ redaction


def chain(exc: BaseException) -> Iterator[BaseException]:
    todo, seen = [exc], set()
    while todo:
        e = todo.pop()
        if id(e) not in seen:
            seen.add(id(e))
            yield e
            todo += [x for x in (e.__cause__, e.__context__) if x is not None]


def reachable(exc: BaseException) -> Iterator[object]:
    """What an error reporter sees of an exception: its chain, their attributes, and the
    locals of dxapi's frames on their tracebacks, one level into containers and attrs
    objects (the client's own Session, which shows its token nowhere, is not opened)."""
    from dxapi._session import Session

    roots: list[object] = []
    for e in chain(exc):
        roots += [e, *e.args, *vars(e).values()]
        tb = e.__traceback__
        while tb is not None:
            if "/dxapi/" in tb.tb_frame.f_code.co_filename:
                roots += list(tb.tb_frame.f_locals.values())
            tb = tb.tb_next
    for obj in roots:
        yield obj
        if isinstance(obj, Mapping):
            yield from obj.values()
        elif isinstance(obj, list | tuple | set):
            yield from obj
        elif attrs.has(type(obj)) and not isinstance(obj, Session):
            yield from (getattr(obj, f.name) for f in attrs.fields(type(obj)))


def assert_unreachable(exc: BaseException, token: str) -> None:
    shown = traceback.TracebackException.from_exception(exc, capture_locals=True)
    while shown is not None:  # what a traceback printed with locals shows of dxapi's frames
        for frame in shown.stack:
            if "/dxapi/" in frame.filename:
                assert token not in str(frame.locals), f"{frame.name} shows the token"
        shown = shown.__cause__ or shown.__context__
    assert token.encode() not in pickle.dumps(exc)
    for obj in reachable(exc):
        module = type(obj).__module__
        assert not module.startswith("aiohttp"), f"{exc!r} reaches a {type(obj).__name__}"
        if isinstance(obj, Mapping):
            keys = {str(k).lower() for k in obj}
            assert "authorization" not in keys, f"{exc!r} reaches the request's headers"
        assert token not in repr(obj)


#: (what the server does, the error it must become); one call each, no retries.
FAILURES = [
    (Fault(401, b'{"ok": false, "error": "invalid_auth"}'), dxapi.AuthError),
    (Fault(404, b"<html>no</html>", content_type="text/html"), dxapi.TransportError),
    (Fault(200, b'{"ok": tru'), dxapi.TransportError),
    (Fault(503, b'{"ok": false, "error": "down"}'), dxapi.APIError),
    (Fault(action="reset_mid_body"), dxapi.TransportError),
    (Fault(action="slow", delay=2.0), dxapi.RequestTimeoutError),
    (Fault(429, b"{}", headers=(("Retry-After", "900"),)), dxapi.RateLimitError),
]


async def run_real(fault: Fault, token: str, call: Callable[[Client], Any]) -> BaseException:
    async with FaultServer() as srv:
        srv.script([fault])
        timeout = Timeout(read=0.3, connect=1, deadline=5)
        async with Client(token, base_url=srv.url, retries=0, timeout=timeout) as dx:
            with pytest.raises(dxapi.DXError) as info:
                await call(dx)
    return info.value


async def run_mock(fault: Fault, token: str, call: Callable[[Client], Any]) -> BaseException:
    transport, _ = replay([fault])
    timeout = Timeout(read=0.3, connect=1, deadline=5)
    async with Client(token, transport=transport, retries=0, timeout=timeout) as dx:
        with pytest.raises(dxapi.DXError) as info:
            await call(dx)
    return info.value


@pytest.mark.parametrize("run", [run_real, run_mock], ids=["aiohttp", "mock"])
@pytest.mark.parametrize(("fault", "expected"), FAILURES, ids=lambda v: getattr(v, "__name__", ""))
async def test_no_error_reaches_the_token(
    run: Any, fault: Fault, expected: type[Exception], token: str
) -> None:
    for call in (
        lambda dx: dx.call("catalog.entities.info", identifier="a"),
        lambda dx: dx.catalog.entities.info(identifier="a"),
    ):
        exc = await run(fault, token, call)
        assert isinstance(exc, expected), repr(exc)
        assert_unreachable(exc, token)


async def test_the_deadline_error_reaches_no_token(token: str) -> None:
    transport, _ = replay([Fault(action="slow", delay=5.0)])
    timeout = Timeout(read=3, connect=1, deadline=0.2)
    async with Client(token, transport=transport, timeout=timeout) as dx:
        with pytest.raises(dxapi.RequestTimeoutError, match="deadline") as info:
            await dx.call("catalog.entities.info", identifier="a")
    assert_unreachable(info.value, token)


def test_a_base_url_with_credentials_is_refused_without_echoing_them(token: str) -> None:
    for url in ("https://user:hunter2-pass@api.getdx.com", "https://hunter2-pass@api.getdx.com"):
        with pytest.raises(dxapi.ArgumentError, match="credentials") as info:
            Client(token, base_url=url)
        assert "hunter2" not in str(info.value) and "hunter2" not in repr(info.value.args)


async def test_the_data_cloud_client_takes_a_transport_too(token: str) -> None:
    seen: list[Any] = []

    def handler(request: Any) -> MockResponse:
        seen.append(request)
        return MockResponse(json={"ok": True})

    transport = MockTransport(handler)
    async with dxapi.DataCloudClient(token, instance="acme", transport=transport) as dc:
        await dc.with_options(encoding="form").deployments.delete(reference_id="r1")
    assert seen[0].url == "https://acme.getdx.net/api/deployments.delete"
    assert seen[0].form == (("reference_id", "r1"),) and seen[0].json is None
