"""The registry's ``waiters:`` section: validation naming file, waiter and key; rendering."""

from __future__ import annotations

from typing import Any

import pytest

from codegen.model import RegistryError
from codegen.specs_source import render_specs
from codegen.validate import build
from dxapi._spec import WaitDelay

JOBS = {
    "jobs.start": {"http": "POST", "args": {"sql": "str!"}, "result": {"job": "json!"}},
    "jobs.info": {"http": "GET", "args": {"id": "str!"}, "result": {"job": "json!"}},
    "jobs.poke": {"http": "POST", "args": {"id": "str!"}, "result": {"job": "json!"}},
}
GOOD = {
    "poll": "jobs.info",
    "id": "id",
    "status": "job.status",
    "job": "job",
    "error": "job.error",
    "start": "jobs.start",
    "start_id": "job.id",
    "pending": ["queued", "running"],
    "success": ["done"],
    "failure": {"failed": "QueryRunFailedError"},
    "timeout_error": "QueryRunTimeoutError",
    "delay": {"initial": 0.5, "max": 4, "multiplier": 2},
}


def files(**waiters: Any) -> dict[str, Any]:
    return {"web.yaml": {"api": "web", "methods": JOBS, "waiters": waiters}}


def problems(**waiters: Any) -> list[str]:
    with pytest.raises(RegistryError) as info:
        build(files(**waiters))
    return info.value.problems


def test_a_good_waiter_builds_and_renders() -> None:
    reg = build(files(job=GOOD))
    w = reg.waiters["job"].spec
    assert (w.poll, w.id_arg, w.status, w.delay) == (
        "jobs.info",
        "id",
        "job.status",
        WaitDelay(0.5, 4.0, 2.0),
    )
    text = render_specs(reg)
    assert "WAITER_JOB = WaiterSpec(" in text
    assert "delay=WaitDelay(initial=0.5, max=4.0, multiplier=2.0)" in text
    assert "'job': WAITER_JOB," in text


def test_no_waiters_renders_an_empty_table() -> None:
    reg = build({"web.yaml": {"api": "web", "methods": JOBS}})
    assert "WAITERS: dict[str, WaiterSpec] = {\n}" in render_specs(reg)


def test_every_refusal_names_file_waiter_and_key() -> None:
    found = problems(
        job={
            **GOOD,
            "poll": "jobs.nope",
            "colour": "blue",
            "pending": ["queued", "done"],
            "failure": {"failed": "not a class"},
            "timeout_error": "Boom",
            "delay": {"initial": 5, "max": 1},
            "start_id": None,
        },
        Bad={"poll": "jobs.info"},
    )
    assert "web.yaml: job: poll: unknown method 'jobs.nope'" in found
    assert "web.yaml: job: colour: unknown waiter key" in found
    assert "web.yaml: job: success: state 'done' is also listed under pending" in found
    assert "web.yaml: job: failure.failed: must name an error class (…Error)" in found
    assert "web.yaml: job: timeout_error: must name an error class (…Error)" in found
    assert any(p.startswith("web.yaml: job: delay: needs") for p in found)
    assert "web.yaml: job: start: start and start_id go together" in found
    assert "web.yaml: Bad: (waiter): waiter names are camelCase, e.g. queryRun" in found


def test_poll_must_be_safe_and_paths_must_exist() -> None:
    found = problems(
        job={**GOOD, "poll": "jobs.poke", "id": "run_id", "status": "nope.status"},
        other={**GOOD, "start": "jobs.info", "start_id": "missing.id"},
    )
    assert "web.yaml: job: id: jobs.poke has no argument 'run_id'" in found
    assert "web.yaml: job: poll: jobs.poke is not safe to repeat" in found
    assert "web.yaml: job: status: jobs.poke has no result key 'nope.status'" in found
    assert "web.yaml: other: start_id: jobs.info has no result key 'missing.id'" in found


def test_required_keys() -> None:
    found = problems(job={"success": []})
    for key in ("poll", "id", "status"):
        assert f"web.yaml: job: {key}: required" in found
    assert "web.yaml: job: success: needs at least one state" in found
