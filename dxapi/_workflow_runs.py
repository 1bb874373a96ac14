"""Workflow runs: wait for one to finish, or trigger one and wait.

The states and the polling come from the registry's ``workflowRun`` waiter
(:mod:`dxapi._waiter`); this module only shapes the answers.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import anyio

from ._generated import specs
from ._generated.shapes import WorkflowRun
from ._session import Session
from ._spec import UNSET, Unset
from ._waiter import Waiter, timeout_error
from ._wire import dig

__all__ = ["WorkflowRunHelpers"]


class WorkflowRunHelpers:
    """Hand-written helpers of ``dx.workflow_runs`` (beside trigger, info and the events)."""

    _session: Session

    def _waiter(self) -> Waiter:
        return Waiter(self._session, specs.WAITER_WORKFLOW_RUN)

    async def wait(
        self,
        run_id: str,
        *,
        timeout: float | None = None,  # noqa: ASYNC109 - the wait's own deadline
    ) -> WorkflowRun:
        """Wait for a workflow run to end SUCCEEDED; return the final run.

        ``timeout`` is in seconds; None (the default) waits as long as the run takes, since
        a run may wait for a human approval.

        Raises:
            WorkflowRunError: the run ended FAILED, REJECTED, TIMEOUT or CANCELLED
                (``.state`` and ``.error`` name it, ``.job`` is the final run).
            WorkflowRunTimeoutError: ``timeout`` passed first.
        """
        payload = await self._waiter().wait(run_id, timeout=timeout)
        return _workflow_run(payload)

    async def trigger_and_wait(
        self,
        *,
        workflow_identifier: str,
        entity_identifier: str | Unset = UNSET,
        data: Mapping[str, Any] | Unset = UNSET,
        timeout: float | None = None,  # noqa: ASYNC109 - the whole run's deadline
    ) -> WorkflowRun:
        """Trigger a workflow (``workflowRuns.trigger``) and wait for the run to succeed."""
        waiter = self._waiter()
        run_id: str | None = None
        with anyio.move_on_after(math.inf if timeout is None else timeout):
            started = await waiter.start(
                {
                    "workflow_identifier": workflow_identifier,
                    "entity_identifier": entity_identifier,
                    "data": data,
                }
            )
            run_id = started.id
            first = started.retry_after
            payload = await waiter.wait(
                run_id,
                first_delay=waiter.spec.delay.initial if first is None else first,
                known=started.payload,
            )
            return _workflow_run(payload)
        raise timeout_error(waiter.spec, run_id, timeout or 0.0)


def _workflow_run(payload: Mapping[str, Any]) -> WorkflowRun:
    job = dig(payload, specs.WAITER_WORKFLOW_RUN.job)
    return Session.structure(specs.WORKFLOW_RUNS_INFO, job, WorkflowRun)
