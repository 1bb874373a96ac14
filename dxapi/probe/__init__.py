"""``dxapi probe``: compare what DX answers with what the registry says, and propose the patch.

::

    async with dxapi.Client() as dx:
        report = await dxapi.probe.probe(dx)              # every safe method, small pages
    report.drift                                          # True when something differs
    Path("probe.md").write_text(report.markdown())
    Path("probe.diff").write_text(report.patch("registry"))

    report = dxapi.probe.probe_records(dxapi.probe.read_records("answers.jsonl"))  # offline

Calls go through the client (its limiter, retries and deadline); only methods that cannot
change anything are called (see :mod:`dxapi.probe._plan` for the rules).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs

from .._client import Client, DataCloudClient
from .._generated.specs import METHODS
from .._spec import MethodSpec
from ._compare import Finding, compare
from ._infer import Observations
from ._patch import PatchError, registry_patch
from ._plan import DEFAULT_LIMIT, UnsafeMethodError, call_all, is_safe, plan
from ._record import Record, read_records, write_records
from ._report import render_report

__all__ = [
    "DEFAULT_LIMIT",
    "Finding",
    "PatchError",
    "ProbeReport",
    "Record",
    "UnsafeMethodError",
    "is_safe",
    "probe",
    "probe_records",
    "read_records",
    "select_methods",
    "write_records",
]


@attrs.frozen
class ProbeReport:
    """The answers probed, what they hold, and how they differ from the registry."""

    records: tuple[Record, ...]
    observations: Observations
    findings: tuple[Finding, ...]

    @property
    def drift(self) -> bool:
        return bool(self.findings)

    def markdown(self, *, secrets: Iterable[str] = ()) -> str:
        """The readable report; values are masked and every string in ``secrets`` scrubbed."""
        text = render_report(self)
        for secret in secrets:
            if secret:
                text = text.replace(secret, "***")
        return text

    def patch(self, registry: str | Path, *, prefix: str = "registry") -> str:
        """A unified diff against ``registry``'s YAML files (paths ``a/<prefix>/web.yaml``)."""
        return registry_patch(self.findings, Path(registry), prefix)


def select_methods(names: Sequence[str] | None, apis: Iterable[str]) -> list[MethodSpec]:
    """The methods to probe: ``names`` (each must be safe), else every safe, current method
    of ``apis`` (deprecated names answer like the names they alias; name them to probe them)."""
    if not names:
        wanted = set(apis)
        return [
            s
            for _, s in sorted(METHODS.items())
            if is_safe(s) and s.api in wanted and s.deprecated is None
        ]
    unknown = [n for n in names if n not in METHODS]
    if unknown:
        raise UnsafeMethodError(f"no such method: {', '.join(unknown)} (see `dxapi methods`)")
    unsafe = [n for n in names if not is_safe(METHODS[n])]
    if unsafe:
        verbs = ", ".join(f"{n} ({METHODS[n].http})" for n in unsafe)
        raise UnsafeMethodError(
            f"probe calls only methods that change nothing (GET, no upload); refused: {verbs}"
        )
    return [METHODS[n] for n in names]


async def probe(
    client: Client,
    methods: Sequence[str] | None = None,
    *,
    datacloud: DataCloudClient | None = None,
    args: Mapping[str, Mapping[str, Any]] | None = None,
    limit: int = DEFAULT_LIMIT,
) -> ProbeReport:
    """Call the safe ``methods`` (default: all of them) once each and compare the answers.

    Data Cloud methods are probed only with a ``datacloud`` client. ``args`` gives arguments
    per method (e.g. a query run id for ``studio.queryRuns.info``); ``limit`` is the page size.
    """
    apis = ["web"] + (["datacloud"] if datacloud is not None else [])
    specs = select_methods(methods, apis)
    offline = [s for s in specs if s.api not in apis]
    specs = [s for s in specs if s.api in apis]
    planned, skipped = plan(specs, METHODS, args or {}, limit=limit)
    skipped += [Record(s.name, error="a Data Cloud method: no Data Cloud client") for s in offline]

    async def call(spec: MethodSpec, given: dict[str, Any]) -> dict[str, Any]:
        target = client if spec.api == "web" or datacloud is None else datacloud
        return await target.call(spec.name, **given)

    records = await call_all(planned, call)
    return _report([*records, *skipped])


def probe_records(records: Iterable[Record], methods: Sequence[str] | None = None) -> ProbeReport:
    """Compare answers already recorded (``methods``: only these)."""
    wanted = set(methods) if methods else None
    return _report([r for r in records if wanted is None or r.method in wanted])


def _report(records: list[Record]) -> ProbeReport:
    obs = Observations()
    for record in records:
        obs.add(record)
    return ProbeReport(tuple(records), obs, tuple(compare(obs)))
