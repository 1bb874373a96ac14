"""The hand-written namespace helpers, blocking: one line per helper method.

The generated sync namespaces inherit these mixins where their async twins inherit the async
helpers (``helpers:`` in the registry); each line runs the async helper in the client's loop
with the same parameters. ``tests/test_sync_client.py`` checks none is missing.
"""

from __future__ import annotations

from ._batch import AiToolMetricsBatch, CustomDataBatch
from ._query_runs import QueryRunHelpers
from ._sync import Blocking, BlockingIter
from ._workflow_runs import WorkflowRunHelpers

__all__ = [
    "SyncAiToolMetricsBatch",
    "SyncCustomDataBatch",
    "SyncQueryRunHelpers",
    "SyncWorkflowRunHelpers",
]


class SyncQueryRunHelpers:
    """``sc.studio.query_runs.run/wait/fetch/download/stream_csv``, blocking."""

    run = Blocking(QueryRunHelpers.run)
    wait = Blocking(QueryRunHelpers.wait)
    fetch = Blocking(QueryRunHelpers.fetch)
    download = Blocking(QueryRunHelpers.download)
    stream_csv = BlockingIter(QueryRunHelpers.stream_csv)


class SyncWorkflowRunHelpers:
    """``sc.workflow_runs.wait/trigger_and_wait``, blocking."""

    wait = Blocking(WorkflowRunHelpers.wait)
    trigger_and_wait = Blocking(WorkflowRunHelpers.trigger_and_wait)


class SyncCustomDataBatch:
    """``sdc.custom_data.set_all_chunked``, blocking."""

    set_all_chunked = Blocking(CustomDataBatch.set_all_chunked)


class SyncAiToolMetricsBatch:
    """``sdc.ai_tool_metrics.push_all_chunked``, blocking."""

    push_all_chunked = Blocking(AiToolMetricsBatch.push_all_chunked)
