"""The fault matrix: every fault kind by every method class → what the caller sees.

``ROWS`` is the one table. Each row names a fault, what the server does for it, and for each
method class (a read, an idempotent write, a non-idempotent write) the expected outcome and how
many requests reached the server. ``docs/reliability.md`` publishes the same table, rendered by
:func:`render_table` (run ``python -m tests.test_fault_matrix`` to print it); a test keeps the
two equal.

Every row runs against :class:`FaultServer` (exact bytes, exact counts); rows FakeDX can inject
also run against FakeDX. Waits are recorded by a fake clock instead of slept.
"""

from __future__ import annotations

import json
import pathlib
import re
import uuid
from collections.abc import Callable, Mapping
from typing import Any

import attrs
import pytest

import dxapi
from dxapi import Client, RateLimit, RetryPolicy, Timeout, TokenBucket
from tests._faultserver import FastClock, Fault, FaultServer, flaky_http, http_date

# ------------------------------------------------------------------------------ the table

POLICY = RetryPolicy(max_retries=2, backoff=0.01, max_backoff=0.05)
TIMEOUT = Timeout(read=0.3, connect=2.0, deadline=20.0)
KINDS = ("read", "idempotent", "write")
METHODS = {
    "read": "catalog.entities.info",
    "idempotent": "catalog.entities.upsert",
    "write": "catalog.entities.create",
}
HEADINGS = {
    "read": "GET (`catalog.entities.info`)",
    "idempotent": "idempotent POST (`catalog.entities.upsert`)",
    "write": "non-idempotent POST (`catalog.entities.create`)",
}


@attrs.frozen
class Expect:
    """``outcome`` is "ok" or the exact error class name; ``requests`` reached the server."""

    outcome: str
    requests: int

    def cell(self) -> str:
        shown = "ok" if self.outcome == "ok" else f"`{self.outcome}`"
        return f"{shown} ({self.requests})"


def ok(requests: int) -> Expect:
    return Expect("ok", requests)


def err(name: str, requests: int) -> Expect:
    assert hasattr(dxapi, name), name
    return Expect(name, requests)


def same(expect: Expect) -> dict[str, Expect]:
    return dict.fromkeys(KINDS, expect)


def safe_only(retried: Expect, write: Expect) -> dict[str, Expect]:
    """Retried for reads and idempotent writes; the non-idempotent write fails at once."""
    return {"read": retried, "idempotent": retried, "write": write}


ERROR_BODY = b'{"ok": false, "error": "internal_error"}'
RATE_BODY = b'{"ok": false, "error": "rate_limited", "message": "slow down"}'
HTML = b"<html><body><h1>502 Bad Gateway</h1></body></html>"


@attrs.frozen
class Row:
    fault: str
    #: The server's script: one Fault per request, built when the test runs.
    faults: Callable[[], list[Fault]]
    expect: dict[str, Expect]
    note: str = ""
    #: Connections refused before the server is reachable.
    refuse: int = 0
    #: The longest recorded wait must be at least this (seconds).
    min_wait: float = 0.0
    #: FakeDX.inject keyword arguments producing the same fault, when it can.
    fake: Mapping[str, Any] | None = None


def status_row(status: int, note: str = "") -> Row:
    return Row(
        f"HTTP {status}, once",
        lambda: [Fault(status, ERROR_BODY)],
        safe_only(ok(2), err("APIError", 1)),
        note,
        fake={"status": status},
    )


ROWS: tuple[Row, ...] = (
    status_row(500, "5xx may have been acted on: only safe methods repeat it"),
    status_row(502),
    status_row(503),
    status_row(504),
    status_row(408, "treated like 5xx: the server may have seen the request"),
    Row(
        "HTTP 503, every attempt",
        lambda: [Fault(503, ERROR_BODY)] * 5,
        safe_only(err("APIError", 3), err("APIError", 1)),
        "gives up after `max_retries` (2 here); `.status == 503`",
        fake={"status": 503, "times": 5},
    ),
    Row(
        "HTTP 503, `Retry-After: 600` (over the cap)",
        lambda: [Fault(503, ERROR_BODY, headers=(("Retry-After", "600"),))],
        same(err("APIError", 1)),
        "not waited for: raised at once with `.retry_after == 600`",
        fake={"status": 503, "headers": {"Retry-After": "600"}},
    ),
    Row(
        "429, `Retry-After: 1` (seconds)",
        lambda: [Fault(429, RATE_BODY, headers=(("Retry-After", "1"),))],
        same(ok(2)),
        "a 429 was not acted on: every method repeats it, after ≥ Retry-After",
        min_wait=1.0,
        fake={"status": 429, "headers": {"Retry-After": "1"}},
    ),
    Row(
        "429, `Retry-After` as an HTTP date (+3 s)",
        lambda: [Fault(429, RATE_BODY, headers=(("Retry-After", http_date(3)),))],
        same(ok(2)),
        "waits until that date",
        min_wait=1.5,
    ),
    Row(
        "429, no `Retry-After`",
        lambda: [Fault(429, RATE_BODY)],
        same(ok(2)),
        "exponential backoff with full jitter",
        fake={"status": 429},
    ),
    Row(
        "429, `Retry-After: 600` (over `max_retry_after`, 120 s)",
        lambda: [Fault(429, RATE_BODY, headers=(("Retry-After", "600"),))],
        same(err("RateLimitError", 1)),
        "raised at once, `.retry_after == 600`: the caller decides",
        fake={"status": 429, "headers": {"Retry-After": "600"}},
    ),
    Row(
        "429, every attempt",
        lambda: [Fault(429, RATE_BODY, headers=(("Retry-After", "0"),))] * 5,
        same(err("RateLimitError", 3)),
        "gives up after `max_retries`",
        fake={"status": 429, "times": 5, "headers": {"Retry-After": "0"}},
    ),
    Row(
        "connection refused, once",
        lambda: [],
        same(ok(1)),
        "never reached the server: every method repeats it",
        refuse=1,
        fake={},
    ),
    Row(
        "connection refused, every attempt",
        lambda: [],
        same(err("TransportError", 0)),
        "gives up after `max_retries`",
        refuse=5,
        fake={},
    ),
    Row(
        "connection reset mid-response",
        lambda: [Fault(action="reset_mid_body")],
        safe_only(ok(2), err("TransportError", 1)),
        "the request arrived: a write is not repeated",
        fake={"truncate": True},
    ),
    Row(
        "connection closed before an answer",
        lambda: [Fault(action="close_before_answer")],
        safe_only(ok(2), err("TransportError", 1)),
        fake={"drop_connection": True},
    ),
    Row(
        "read timeout (answer slower than `Timeout.read`)",
        lambda: [Fault(action="slow", delay=3.0)],
        safe_only(ok(2), err("RequestTimeoutError", 1)),
        "`RequestTimeoutError` is also a `TimeoutError`",
        fake={"delay": 0.6},
    ),
    Row(
        "truncated JSON body (HTTP 200)",
        lambda: [Fault(200, b'{"ok": true, "entity": {"identif')],
        safe_only(ok(2), err("TransportError", 1)),
        fake={"status": 200, "body": b'{"ok": true, "entity": {"identif'},
    ),
    Row(
        "HTML error page (HTTP 502, `text/html`)",
        lambda: [Fault(502, HTML, content_type="text/html")],
        safe_only(ok(2), err("TransportError", 1)),
        "`.status == 502`; the message quotes the page's start",
        fake={"status": 502, "body": HTML.decode()},
    ),
    Row(
        "HTML page with HTTP 404 (wrong base URL)",
        lambda: [Fault(404, HTML, content_type="text/html")],
        same(err("TransportError", 1)),
        "not the API: asking again cannot help",
        fake={"status": 404, "body": HTML.decode()},
    ),
    Row(
        "`ok: false` with HTTP 200",
        lambda: [Fault(200, b'{"ok": false, "error": "invalid_type"}')],
        same(err("APIError", 1)),
        "the API's own refusal: `.error == 'invalid_type'`",
        fake={"status": 200, "body": {"ok": False, "error": "invalid_type"}},
    ),
    Row(
        "empty body (HTTP 200)",
        lambda: [Fault(200, b"")],
        safe_only(ok(2), err("TransportError", 1)),
        fake={"status": 200, "body": b""},
    ),
    Row(
        "HTTP 401 `invalid_auth`",
        lambda: [Fault(401, b'{"ok": false, "error": "invalid_auth"}')],
        same(err("AuthError", 1)),
        fake={"status": 401, "body": {"ok": False, "error": "invalid_auth"}},
    ),
)

MARK_START = "<!-- fault-matrix:start (generated from tests/test_fault_matrix.py) -->"
MARK_END = "<!-- fault-matrix:end -->"
ROOT = pathlib.Path(__file__).resolve().parent.parent
DOCS = (ROOT / "docs" / "reliability.md", ROOT / "README.md")


def render_table() -> str:
    """The Markdown table of ``ROWS`` as docs/reliability.md publishes it."""
    head = ["Fault", *(HEADINGS[k] for k in KINDS), "Notes"]
    lines = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    for row in ROWS:
        cells = [row.fault, *(row.expect[k].cell() for k in KINDS), row.note]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


# --------------------------------------------------------------------------- the tests


def args_for(kind: str, entity: str = "svc-1") -> dict[str, Any]:
    if kind == "read":
        return {"identifier": entity}
    return {"identifier": f"new-{uuid.uuid4().hex[:8]}", "type": "service", "name": "N"}


def cases() -> list[Any]:
    return [
        pytest.param(row, kind, id=f"{re.sub(r'[^a-z0-9]+', '-', row.fault.lower())}-{kind}")
        for row in ROWS
        for kind in KINDS
    ]


async def check(dx: Client, clock: FastClock, row: Row, kind: str, args: dict[str, Any]) -> None:
    expect = row.expect[kind]
    if expect.outcome == "ok":
        payload = await dx.call(METHODS[kind], **args)
        assert payload["ok"] is True
    else:
        with pytest.raises(dxapi.DXError) as info:
            await dx.call(METHODS[kind], **args)
        assert type(info.value).__name__ == expect.outcome, repr(info.value)
        assert info.value.method == METHODS[kind]  # type: ignore[attr-defined]
        if "600" in row.fault:
            assert info.value.retry_after == 600  # type: ignore[attr-defined]
    if row.min_wait:
        assert max(clock.waits) >= row.min_wait


@pytest.mark.parametrize(("row", "kind"), cases())
async def test_fault_matrix(row: Row, kind: str, token: str) -> None:
    async with FaultServer() as srv, flaky_http(srv.port, refuse=row.refuse) as http:
        srv.script(row.faults())
        clock = FastClock()
        bucket = TokenBucket(RateLimit(100, 1.0), clock)  # 429s pause it; waits are recorded
        dx = Client(
            token=token,
            base_url=f"http://localhost:{srv.port}",
            session=http,
            retries=POLICY,
            timeout=TIMEOUT,
            limiter=bucket,
        )
        dx._session.clock = clock
        args = args_for(kind)
        await check(dx, clock, row, kind, args)
        assert len(srv.seen) == row.expect[kind].requests
        assert bucket.in_flight == 0  # every attempt gave its token back
        assert len(http.connector._acquired) == 0  # type: ignore[union-attr]  # and its connection
        # Nothing lost or altered: every attempt sent the same request.
        assert len({(s.method, s.target, s.body) for s in srv.seen}) <= 1
        for seen in srv.seen:
            assert seen.headers["authorization"] == f"Bearer {token}"


def fake_cases() -> list[Any]:
    return [p for p in cases() if p.values[0].fake is not None]


@pytest.mark.parametrize(("row", "kind"), fake_cases())
async def test_fault_matrix_on_fakedx(row: Row, kind: str) -> None:
    from dxapi.testing import FakeDX

    async with FakeDX(entities=5) as fake:
        port = int(fake.url.rsplit(":", 1)[1])
        async with flaky_http(port, refuse=row.refuse) as http:
            assert row.fake is not None
            if row.fake:
                fake.inject(METHODS[kind], **row.fake)
            dx = Client(
                token=fake.token,
                base_url=f"http://localhost:{port}",
                session=http,
                retries=POLICY,
                timeout=TIMEOUT,
                rate_limit=None,
            )
            clock = FastClock()
            dx._session.clock = clock
            args = args_for(kind, entity=next(iter(fake.store.entities)))
            await check(dx, clock, row, kind, args)
            assert len(fake.requests_for(METHODS[kind])) == row.expect[kind].requests


def test_docs_publish_the_same_table() -> None:
    for doc in DOCS:
        text = doc.read_text(encoding="utf-8")
        start, end = text.index(MARK_START) + len(MARK_START), text.index(MARK_END)
        assert text[start:end].strip() == render_table(), (
            f"{doc.name} is out of date: paste the output of "
            "`python -m tests.test_fault_matrix` between the fault-matrix markers"
        )


def test_table_covers_every_fault_kind() -> None:
    text = json.dumps([r.fault for r in ROWS]).lower()
    for kind in (
        "500", "502", "503", "504", "408", "retry-after: 1", "http date", "no `retry-after`",
        "refused", "reset", "timeout", "truncated", "html", "ok: false", "empty body",
    ):  # fmt: skip
        assert kind in text, kind


if __name__ == "__main__":
    print(render_table())
