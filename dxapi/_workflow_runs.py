"""Workflow runs: wait for one to finish, or trigger one and wait.

The states and the polling come from the registry's ``workflowRun`` waiter
(:mod:`dxapi._waiter`), through the namespace's own ``trigger`` and ``info``; this module only
shapes the answers.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any, ClassVar

from ._methods import spec_of
from ._session import Session
from ._spec import UNSET, Unset, WaiterSpec
from ._waiter import Waiter
from ._wire import dig
from .types import WorkflowRun

__all__ = ["WorkflowRunHelpers"]


class WorkflowRunHelpers:
    """Hand-written helpers of ``dx.workflow_runs`` (beside trigger, info and the events)."""

    _session: Session
    _waiters: ClassVar[Mapping[str, WaiterSpec]]
    # The generated methods of the namespace class this mixin is part of.
    trigger: Callable[..., Awaitable[Any]]
    info: Callable[..., Awaitable[Any]]

    def _waiter(self) -> Waiter:
        spec = self._waiters["workflowRun"]
        return Waiter(self._session, spec, poll=self.info, start=self.trigger)

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
        return self._workflow_run(payload)

    async def trigger_and_wait(
        self,
        *,
        workflow_identifier: str,
        entity_identifier: str | Unset = UNSET,
        data: Mapping[str, Any] | Unset = UNSET,
        timeout: float | None = None,  # noqa: ASYNC109 - the whole run's deadline
    ) -> WorkflowRun:
        """Trigger a workflow (``workflowRuns.trigger``) and wait for the run to succeed."""
        args = {
            "workflow_identifier": workflow_identifier,
            "entity_identifier": entity_identifier,
            "data": data,
        }
        return await self._waiter().start_and_wait(args, self._finished, timeout=timeout)

    async def _finished(self, run_id: str, payload: dict[str, Any]) -> WorkflowRun:
        return self._workflow_run(payload)

    def _workflow_run(self, payload: Mapping[str, Any]) -> WorkflowRun:
        job = dig(payload, self._waiters["workflowRun"].job)
        return Session.structure(spec_of(self.info), job, WorkflowRun)
