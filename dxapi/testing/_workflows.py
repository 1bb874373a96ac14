"""Workflow runs: ``trigger`` starts one, ``info`` shows it move to a terminal status.

A run is PENDING_RUN for its first quarter, then IN_PROGRESS (and, with approval on,
WAITING_FOR_APPROVAL for its second half), then its terminal status: SUCCEEDED unless the
workflow's outcome says FAILED, REJECTED, TIMEOUT or CANCELLED. ``changeStatus`` ends it at
once; ``postMessage``/``addLink`` record events.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import attrs

from ._reply import Answer, Call, Fail, Handler, Reply, not_found
from ._store import encode_id, stamp

__all__ = ["TERMINAL", "WorkflowRuns"]

TERMINAL = ("SUCCEEDED", "FAILED", "REJECTED", "TIMEOUT", "CANCELLED")


@attrs.define
class _WorkflowRun:
    id: str
    workflow: str
    entity: str | None
    data: dict[str, Any]
    outcome: str
    started: float
    wall: float
    forced: str | None = None
    links: list[dict[str, Any]] = attrs.field(factory=list)
    events: list[dict[str, Any]] = attrs.field(factory=list)


class WorkflowRuns:
    """Workflow runs by id; ``clock`` is monotonic seconds, ``wall`` seconds for timestamps."""

    def __init__(
        self,
        clock: Callable[[], float],
        wall: Callable[[], float],
        *,
        seconds: float,
        outcome: str,
        outcomes: Mapping[str, str],
        approval: bool,
    ) -> None:
        for status in (outcome, *outcomes.values()):
            if status not in TERMINAL:
                raise ValueError(f"workflow outcome must be one of {TERMINAL}, got {status!r}")
        self.clock, self.wall = clock, wall
        self.seconds, self.outcome, self.outcomes = seconds, outcome, dict(outcomes)
        self.approval = approval
        self.runs: dict[str, _WorkflowRun] = {}

    def handlers(self) -> dict[str, Handler]:
        return {
            "workflowRuns.trigger": self.trigger,
            "workflowRuns.info": self.info,
            "workflowRuns.postMessage": self.post_message,
            "workflowRuns.addLink": self.add_link,
            "workflowRuns.changeStatus": self.change_status,
        }

    def status(self, run: _WorkflowRun) -> str:
        if run.forced:
            return run.forced
        part = (self.clock() - run.started) / self.seconds if self.seconds > 0 else 1.0
        if part >= 1:
            return run.outcome
        if part < 0.25:
            return "PENDING_RUN"
        return "WAITING_FOR_APPROVAL" if self.approval and part >= 0.5 else "IN_PROGRESS"

    def trigger(self, call: Call) -> Reply:
        workflow = str(call.args["workflow_identifier"])
        run_id = encode_id(800_000 + len(self.runs)).lower()
        self.runs[run_id] = _WorkflowRun(
            run_id,
            workflow,
            call.args.get("entity_identifier"),
            dict(call.args.get("data") or {}),
            self.outcomes.get(workflow, self.outcome),
            self.clock(),
            self.wall(),
        )
        return {"workflow_run": {"id": run_id}}

    def _run(self, run_id: Any) -> _WorkflowRun:
        run = self.runs.get(str(run_id))
        if run is None:
            raise not_found("workflow run", run_id)
        return run

    def info(self, call: Call) -> Reply:
        run = self._run(call.args.get("id", call.args.get("run_id")))
        status = self.status(run)
        done = status in TERMINAL
        obj = {
            "id": run.id,
            "workflow_identifier": run.workflow,
            "entity_identifier": run.entity,
            "status": status,
            "started_at": stamp(run.wall),
            "completed_at": stamp(run.wall + self.seconds) if done else None,
            "data": run.data,
            "links": run.links,
        }
        return Answer({"workflow_run": obj}, headers={} if done else {"Retry-After": "1"})

    def _event(self, call: Call, kind: str, message: Any, data: dict[str, Any]) -> Reply:
        run = self._run(call.args["workflow_run_id"])
        event = {
            "id": f"{run.id}e{len(run.events)}",
            "workflow_run_id": run.id,
            "type": kind,
            "message": message,
            "occurred_at": stamp(self.wall()),
            "data": data,
        }
        run.events.append(event)
        return {"event": event}

    def post_message(self, call: Call) -> Reply:
        return self._event(call, "POST_MESSAGE", call.args["message"], {})

    def add_link(self, call: Call) -> Reply:
        link = call.args["link"]
        self._run(call.args["workflow_run_id"]).links.append(link)
        return self._event(call, "ADD_LINK", None, {"link": link})

    def change_status(self, call: Call) -> Reply:
        status = call.args["status"]
        if status not in ("SUCCEEDED", "FAILED"):
            raise Fail(422, "invalid_arguments", "status must be SUCCEEDED or FAILED")
        self._run(call.args["workflow_run_id"]).forced = status
        return self._event(call, "CHANGE_STATUS", None, {"status": status})
