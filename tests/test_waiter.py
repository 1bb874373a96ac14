"""The generic job waiter: pure decisions, and polling over aioresponses."""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator
from typing import Any

import attrs
import pytest

import dxapi
from dxapi import RetryPolicy
from dxapi._generated import specs
from dxapi._spec import WaitDelay, WaiterSpec
from dxapi._waiter import Waiter, classify, job_error, next_delay, timeout_error
from dxapi._wire import dig

BASE = "https://api.getdx.com"
QR = specs.WAITER_QUERY_RUN
WF = specs.WAITER_WORKFLOW_RUN
INFO = re.compile(r"^https://api\.getdx\.com/studio\.queryRuns\.info\?id=r1$")
EXECUTE = f"{BASE}/studio.queryRuns.execute"
WF_INFO = re.compile(r"^https://api\.getdx\.com/workflowRuns\.info\?id=w1$")
NOW = {"Retry-After": "0"}


def run(status: str, **extra: Any) -> dict[str, Any]:
    return {"ok": True, "query_run": {"id": "r1", "status": status, **extra}}


@pytest.fixture
async def dx(token: str) -> AsyncIterator[dxapi.Client]:
    async with dxapi.Client(token=token, retries=RetryPolicy(backoff=0.001)) as client:
        yield client


def qr_waiter(dx: dxapi.Client) -> Waiter:
    ns = dx.studio.query_runs
    return Waiter(dx._session, QR, poll=ns.info, start=ns.execute)


# ------------------------------------------------------------------------ pure decisions


def test_dig_follows_dotted_paths_and_tolerates_gaps() -> None:
    payload = {"query_run": {"status": "running", "error": None}}
    assert dig(payload, "query_run.status") == "running"
    assert dig(payload, "query_run.error.code") is None
    assert dig(payload, "nope.status") is None
    assert dig(payload, None) is None
    assert dig(["not", "a", "mapping"], "a") is None


@pytest.mark.parametrize(
    ("state", "verdict"),
    [
        ("queued", "pending"),
        ("started", "pending"),
        ("running", "pending"),
        ("succeeded", "success"),
        ("failed", "failure"),
        ("expired", "failure"),
        ("paused", "unknown"),
        (None, "unknown"),
        (3, "unknown"),
    ],
)
def test_classify_query_run_states(state: Any, verdict: str) -> None:
    assert classify(QR, state) == verdict


def test_classify_workflow_run_states() -> None:
    for s in ("PENDING_RUN", "IN_PROGRESS", "WAITING_FOR_APPROVAL", "WAITING_FOR_EVENTS"):
        assert classify(WF, s) == "pending"
    assert classify(WF, "SUCCEEDED") == "success"
    for s in ("FAILED", "REJECTED", "TIMEOUT", "CANCELLED"):
        assert classify(WF, s) == "failure"


def test_delay_grows_to_its_cap_and_retry_after_wins() -> None:
    spec = attrs.evolve(QR, delay=WaitDelay(initial=1.0, max=4.0, multiplier=2.0))
    assert [next_delay(spec, n, None) for n in (1, 2, 3, 4, 5)] == [1.0, 2.0, 4.0, 4.0, 4.0]
    assert next_delay(spec, 5, 0.0) == 0.0
    assert next_delay(spec, 1, 7.5) == 7.5  # the server's word, even above the backoff's cap
    assert next_delay(spec, 1, 86_400.0, 60.0) == 60.0  # but never over max_poll_interval
    assert next_delay(spec, 5, None, 3.0) == 3.0
    assert next_delay(spec, 2, float("nan")) == 2.0
    assert next_delay(spec, 2, -1.0) == 2.0


def test_failed_run_error_carries_the_server_error_object() -> None:
    payload = run("failed", error={"code": "sql_error", "message": "Query timeout."})
    exc = job_error(QR, "r1", payload)
    assert isinstance(exc, dxapi.QueryRunFailedError)
    assert (exc.error, exc.job_id, exc.state) == ("sql_error", "r1", "failed")
    assert exc.details == {"code": "sql_error", "message": "Query timeout."}
    assert exc.job is not None and exc.job["status"] == "failed"
    assert "r1" in str(exc) and "Query timeout." in str(exc)


def test_expired_run_error_names_the_run_and_when() -> None:
    exc = job_error(QR, "r1", run("expired", expires_at="2026-05-13T20:10:05Z"))
    assert isinstance(exc, dxapi.QueryRunExpiredError)
    assert exc.job_id == "r1" and exc.state == "expired"
    assert "r1" in str(exc) and "2026-05-13T20:10:05Z" in str(exc)


def test_workflow_error_names_the_terminal_status() -> None:
    payload = {"ok": True, "workflow_run": {"id": "w1", "status": "REJECTED"}}
    exc = job_error(WF, "w1", payload)
    assert type(exc) is dxapi.WorkflowRunError
    assert exc.error == "REJECTED" and exc.state == "REJECTED"
    assert "w1" in str(exc) and "REJECTED" in str(exc)


def test_unexpected_state_is_a_job_error() -> None:
    exc = job_error(QR, "r1", run("paused"))
    assert type(exc) is dxapi.JobError
    assert exc.error == "unexpected_state" and "paused" in str(exc)


def test_timeout_errors_are_timeout_errors() -> None:
    q = timeout_error(QR, "r1", 5)
    w = timeout_error(WF, "w1", 5)
    assert isinstance(q, dxapi.QueryRunTimeoutError) and isinstance(q, TimeoutError)
    assert isinstance(w, dxapi.WorkflowRunTimeoutError) and isinstance(w, TimeoutError)
    assert q.job_id == "r1" and "5 s" in str(q)


def test_unknown_error_class_falls_back_to_job_error() -> None:
    spec = WaiterSpec(
        name="thing",
        poll="p.info",
        id_arg="id",
        status="s",
        pending=("p",),
        success=("ok",),
        failure=(("bad", "NoSuchError"),),
    )
    assert type(job_error(spec, "x", {"s": "bad"})) is dxapi.JobError


def test_every_registry_waiter_names_real_methods_and_job_errors() -> None:
    for w in specs.WAITERS.values():
        poll = specs.METHODS[w.poll]
        assert poll.arg(w.id_arg) is not None
        assert w.start is None or w.start in specs.METHODS
        for _, cls in (*w.failure, ("timeout", w.timeout_error)):
            assert issubclass(getattr(dxapi, cls), dxapi.JobError), cls


# ------------------------------------------------------------------------------ polling


async def test_start_reads_id_location_and_retry_after(mocked: Any, dx: dxapi.Client) -> None:
    mocked.post(
        EXECUTE,
        status=202,
        payload=run("queued"),
        headers={"Retry-After": "2", "Location": "/studio.queryRuns.info?id=r1"},
    )
    started = await qr_waiter(dx).start({"sql": "SELECT 1"})
    assert (started.id, started.http_status, started.retry_after) == ("r1", 202, 2.0)
    assert started.location == "/studio.queryRuns.info?id=r1"


async def test_start_falls_back_to_the_location_id(mocked: Any, dx: dxapi.Client) -> None:
    mocked.post(
        EXECUTE,
        status=202,
        payload={"ok": True, "query_run": {"status": "queued"}},
        headers={"Location": "https://api.getdx.com/studio.queryRuns.info?id=r9"},
    )
    with pytest.raises(dxapi.ResponseValidationError) as caught:  # the shape requires an id …
        await dx.studio.query_runs.execute(sql="SELECT 1")
    assert caught.value.path == "query_run.id"
    assert caught.value.accepted  # a POST answered ok: true
    assert caught.value.payload == {"ok": True, "query_run": {"status": "queued"}}
    assert caught.value.status == 202
    mocked.post(
        EXECUTE,
        status=202,
        payload={"ok": True, "query_run": {"status": "queued"}},
        headers={"Location": "https://api.getdx.com/studio.queryRuns.info?id=r9"},
    )
    started = await qr_waiter(dx).start({"sql": "SELECT 1"})  # … the waiter copes
    assert started.id == "r9"


async def test_wait_polls_until_success(mocked: Any, dx: dxapi.Client) -> None:
    for status in ("queued", "started", "running"):
        mocked.get(INFO, payload=run(status), headers=NOW)
    mocked.get(INFO, payload=run("succeeded"))
    payload = await qr_waiter(dx).wait("r1", timeout=5)
    assert payload["query_run"]["status"] == "succeeded"
    assert sum(len(v) for v in mocked.requests.values()) == 4


async def test_rate_limited_polls_keep_waiting(mocked: Any, token: str) -> None:
    async with dxapi.Client(token=token, retries=0) as dx:
        mocked.get(INFO, status=429, payload={"ok": False, "error": "rate_limited"}, headers=NOW)
        mocked.get(INFO, payload=run("succeeded"))
        payload = await qr_waiter(dx).wait("r1", timeout=5)
    assert payload["query_run"]["status"] == "succeeded"


async def test_wait_raises_the_registry_failure(mocked: Any, dx: dxapi.Client) -> None:
    mocked.get(INFO, payload=run("running"), headers=NOW)
    mocked.get(INFO, payload=run("failed", error={"code": "sql_error", "message": "boom"}))
    with pytest.raises(dxapi.QueryRunFailedError) as info:
        await qr_waiter(dx).wait("r1", timeout=5)
    assert info.value.details["message"] == "boom"


async def test_known_payload_skips_polling(mocked: Any, dx: dxapi.Client) -> None:
    done = await qr_waiter(dx).wait("r1", known=run("succeeded"))
    assert done["query_run"]["status"] == "succeeded"
    assert not mocked.requests


async def test_wait_times_out_with_the_job_id(mocked: Any, dx: dxapi.Client) -> None:
    mocked.get(INFO, payload=run("running"), headers={"Retry-After": "30"}, repeat=True)
    t0 = time.monotonic()
    with pytest.raises(dxapi.QueryRunTimeoutError) as info:
        await qr_waiter(dx).wait("r1", timeout=0.2)
    assert time.monotonic() - t0 < 2
    assert info.value.job_id == "r1"


async def test_workflow_wait_returns_final_run_or_names_status(
    mocked: Any, dx: dxapi.Client
) -> None:
    for status in ("PENDING_RUN", "IN_PROGRESS", "WAITING_FOR_APPROVAL"):
        mocked.get(
            WF_INFO,
            payload={"ok": True, "workflow_run": {"id": "w1", "status": status}},
            headers=NOW,
        )
    mocked.get(WF_INFO, payload={"ok": True, "workflow_run": {"id": "w1", "status": "SUCCEEDED"}})
    final = await dx.workflow_runs.wait("w1", timeout=5)
    assert (final.id, final.status) == ("w1", "SUCCEEDED")

    mocked.get(WF_INFO, payload={"ok": True, "workflow_run": {"id": "w1", "status": "CANCELLED"}})
    with pytest.raises(dxapi.WorkflowRunError) as info:
        await dx.workflow_runs.wait("w1", timeout=5)
    assert info.value.state == "CANCELLED" and "CANCELLED" in str(info.value)


async def test_trigger_and_wait(mocked: Any, dx: dxapi.Client) -> None:
    mocked.post(
        f"{BASE}/workflowRuns.trigger",
        payload={"ok": True, "workflow_run": {"id": "w1"}},
        headers=NOW,
    )
    mocked.get(
        WF_INFO,
        payload={"ok": True, "workflow_run": {"id": "w1", "status": "IN_PROGRESS"}},
        headers=NOW,
    )
    mocked.get(
        WF_INFO,
        payload={
            "ok": True,
            "workflow_run": {"id": "w1", "status": "SUCCEEDED", "data": {"x": 1}},
        },
    )
    final = await dx.workflow_runs.trigger_and_wait(
        workflow_identifier="deploy", data={"greeting": "hi"}, timeout=5
    )
    assert final.data == {"x": 1}
    trigger = next(c for k, v in mocked.requests.items() if "trigger" in str(k[1]) for c in v)
    assert trigger.kwargs["json"] == {"workflow_identifier": "deploy", "data": {"greeting": "hi"}}


async def test_a_waiter_refuses_methods_its_spec_does_not_name(dx: dxapi.Client) -> None:
    ns = dx.studio.query_runs
    with pytest.raises(TypeError, match="queryRun"):
        Waiter(dx._session, QR, poll=ns.results, start=ns.execute)
    with pytest.raises(TypeError, match="queryRun"):
        Waiter(dx._session, QR, poll=ns.info, start=dx.workflow_runs.trigger)
    with pytest.raises(TypeError, match="no start method"):
        await Waiter(dx._session, QR, poll=ns.info).start({"sql": "SELECT 1"})


async def test_a_pending_jobs_huge_retry_after_is_capped_by_max_poll_interval() -> None:
    from dxapi.testing import MockResponse, MockTransport

    answers = iter(["running", "running", "succeeded"])

    def handler(request: Any) -> MockResponse:
        return MockResponse(json=run(next(answers)), headers={"Retry-After": "86400"})

    slept: list[float] = []

    class Clock:
        def now(self) -> float:
            return time.monotonic()

        async def sleep(self, seconds: float) -> None:
            slept.append(seconds)

    retries = dxapi.RetryPolicy(max_poll_interval=5.0)
    async with dxapi.Client(token="t", transport=MockTransport(handler), retries=retries) as dx:
        dx._session.clock = Clock()
        done = await qr_waiter(dx).wait("r1", first_delay=86_400.0, timeout=10)
    assert done["query_run"]["status"] == "succeeded"
    assert slept == [5.0, 5.0, 5.0]  # the first wait and each poll's: a day asked, 5 s waited
