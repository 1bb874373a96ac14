"""Exports: every item of a list method (and optionally one call per item) into a file,
resumable after a crash and refusing to resume anything but its own run.

``_job`` is the entry point (:func:`export`, :class:`ExportJob`); ``_runs`` drives the list
and the per-item fan-out; ``_checkpoint`` records progress and the run's identity and holds
the output's lock; ``_records`` writes JSONL/CSV (and hands Parquet to :mod:`dxapi._arrow`);
``_each`` maps items to a per-item method's arguments and records its failures.
"""

from ._job import ExportJob, ExportResult, ExportStats, SupportsExport, check_format, export

__all__ = ["ExportJob", "ExportResult", "ExportStats", "SupportsExport", "check_format", "export"]
