"""dxapi.probe's pieces: which methods are safe, argument sources, inference, patch text."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest

from dxapi._errors import AuthError, TransportError
from dxapi._generated.specs import METHODS
from dxapi.probe import (
    PatchError,
    Record,
    UnsafeMethodError,
    is_safe,
    probe_records,
    read_records,
    select_methods,
)
from dxapi.probe._plan import Source, call_all, plan
from dxapi.probe._report import mask
from dxapi.testing import Drift, FakeDX

ROOT = Path(__file__).resolve().parents[1]


# ------------------------------------------------------------------ which methods


@pytest.mark.parametrize(
    ("method", "safe"),
    [
        ("catalog.entities.list", True),
        ("studio.queryRuns.info", True),
        ("catalog.entities.upsert", False),  # idempotent, but a write
        ("catalog.entities.delete", False),
        ("studio.queryRuns.execute", False),
        ("orgfiles.upload", False),
    ],
)
def test_only_methods_that_change_nothing_are_safe(method: str, safe: bool) -> None:
    assert is_safe(METHODS[method]) is safe


def test_default_selection_is_every_current_read() -> None:
    chosen = select_methods(None, ["web", "datacloud"])
    assert chosen and all(s.http == "GET" and s.deprecated is None for s in chosen)
    assert "catalog.entities.list" in {s.name for s in chosen}


def test_named_writes_and_unknown_names_are_refused() -> None:
    with pytest.raises(UnsafeMethodError, match=r"catalog\.entities\.upsert \(POST\)"):
        select_methods(["catalog.entities.list", "catalog.entities.upsert"], ["web"])
    with pytest.raises(UnsafeMethodError, match=r"no such method: catalog\.nope"):
        select_methods(["catalog.nope"], ["web"])


# ------------------------------------------------------------- argument sources


def planned(*names: str, given: dict[str, dict[str, Any]] | None = None) -> dict[str, Any]:
    calls, skipped = plan([METHODS[n] for n in names], METHODS, given or {}, limit=3)
    out: dict[str, Any] = {p.spec.name: p for p in calls}
    out.update({r.method: r.error for r in skipped})
    return out


def test_ids_come_from_the_list_method_that_names_them() -> None:
    got = planned(
        "catalog.entities.info", "teams.info", "snapshots.info", "catalog.relationEdges.list"
    )
    assert got["catalog.entities.info"].sources == (
        Source("identifier", "catalog.entities.list", "entities", "identifier"),
    )
    assert got["teams.info"].sources == (Source("team_id", "teams.list", "teams", "id"),)
    assert got["snapshots.info"].sources == (
        Source("snapshot_id", "snapshots.list", "snapshots", "id"),
    )
    edges = {s.arg: (s.method, s.field) for s in got["catalog.relationEdges.list"].sources}
    assert edges == {
        "entity_identifier": ("catalog.entities.list", "identifier"),
        "relation_identifier": ("catalog.relations.list", "identifier"),
    }
    # the sources are called first, with a small page
    order = list(got)
    assert order.index("catalog.entities.list") < order.index("catalog.entities.info")
    assert got["catalog.entities.list"].args == {"limit": 3}


def test_arguments_without_a_source_are_skipped_or_taken_as_given() -> None:
    got = planned("queries.datafeed", "studio.queryRuns.info", "snapshots.dxiScores.breakdown")
    assert (
        got["queries.datafeed"]
        == "needs feed_token, which no list answer provides (give it: --arg or args=)"
    )
    assert (
        got["studio.queryRuns.info"]
        == "needs id, which no list answer provides (give it: --arg or args=)"
    )
    enum = METHODS["snapshots.dxiScores.breakdown"].arg("dimension_type")
    assert enum is not None and enum.enum
    assert got["snapshots.dxiScores.breakdown"].args["dimension_type"] == enum.enum[0]
    runs = ("studio.queryRuns.info", "studio.queryRuns.results")
    given = planned(*runs, given={"studio.queryRuns.info": {"id": "r1"}})
    assert given["studio.queryRuns.info"].args == {"id": "r1"}
    assert given["studio.queryRuns.results"].args == {"id": "r1"}  # same namespace, same name


# ------------------------------------------------------------ inference, compare


def entity(**extra: Any) -> dict[str, Any]:
    return {"identifier": "svc", "type": "service", "created_at": "2025-01-01T00:00:00Z", **extra}


def keys(records: list[Record]) -> set[tuple[str, str, str, str]]:
    return {f.key for f in probe_records(records).findings}


def test_an_answer_that_matches_the_registry_shows_no_difference() -> None:
    answer = {"ok": True, "entity": entity(name=None)}  # null in an optional field is fine
    assert keys([Record("catalog.entities.info", {}, answer)]) == set()


def test_each_kind_of_difference_is_found() -> None:
    records = [
        Record("catalog.entities.list", {}, {"ok": True, "entities": [
            entity(tier="gold", seen_at="2025-02-03T04:05:06Z"),
            {"type": "service", "tier": "silver"},
        ], "total": 2}),
        Record("catalog.entityTypes.info", {}, {"entity_type": {
            "identifier": "service", "ordering": "1"}}),
        Record("catalog.entityTypes.list", {}, {"entity_types": [
            {"identifier": "a", "ordering": 1}, {"identifier": "b", "ordering": "2"}]}),
        Record("studio.queryRuns.info", {}, {"query_run": {"id": "r", "status": "paused"}}),
    ]  # fmt: skip
    assert keys(records) == {
        ("new_field", "Entity", "tier", "str"),
        ("new_field", "Entity", "seen_at", "datetime"),
        ("new_field", "CatalogEntitiesListResult", "total", "int"),
        ("absent", "Entity", "identifier", ""),
        ("type", "EntityType", "ordering", "str"),
        ("type", "EntityType", "ordering", "int | str"),
        ("enum", "QueryRun", "status", "paused"),
    }


def test_findings_count_what_they_saw() -> None:
    answer = {"entities": [entity(), {"type": "x"}, {"identifier": None}]}
    (finding,) = probe_records([Record("catalog.entities.list", {}, answer)]).findings
    assert (finding.kind, finding.count, finding.total) == ("absent", 2, 3)
    assert "absent or null in 2 of 3 objects" in finding.describe()


def test_read_records_names_a_bad_line(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    line = {"method": "teams.list", "args": {}, "answer": {"teams": []}}
    path.write_text(json.dumps(line) + "\n\n" + '{"method": "x", "answer": []}\n')
    with pytest.raises(ValueError, match=r"a\.jsonl:3: 'answer' and 'args' must be"):
        read_records(path)
    path.write_text(json.dumps(line) + "\n")
    assert read_records(path) == [Record("teams.list", {}, {"teams": []})]


# ---------------------------------------------------------------- report, masking


def test_values_are_masked_by_what_they_look_like() -> None:
    assert mask("ada@example.com") == "<email>"
    assert mask("https://user:pw@host/x") == "<url>"
    assert mask("42") == "<number as text>"
    assert mask("Ada Lovelace") == "<text, 12 chars>"
    assert mask({"a": ["x", "y"], "n": 3, "b": True}) == {
        "a": ["<text, 1 chars>", "…"],
        "n": 3,
        "b": True,
    }


def test_report_scrubs_given_secrets() -> None:
    report = probe_records([Record("teams.list", {}, {"teams": [{"id": "t", "kind": "s3cr3t"}]})])
    text = report.markdown(secrets=["teams.list"])
    assert "teams.list" not in text and "***" in text


# ---------------------------------------------------------------------- patch


@pytest.fixture
def registry(tmp_path: Path) -> Path:
    shutil.copytree(ROOT / "registry", tmp_path / "registry")
    return tmp_path / "registry"


def patch_for(records: list[Record], registry: Path) -> str:
    return probe_records(records).patch(registry)


def test_patch_edits_only_the_lines_it_must(registry: Path) -> None:
    records = [
        Record("studio.queryRuns.info", {}, {"query_run": {"status": "done", "extra": 1.5}}),
        Record("teams.list", {}, {"teams": [{"id": "t", "contributors": "7"}], "total": 1}),
    ]
    diff = patch_for(records, registry)
    added = [ln for ln in diff.splitlines() if ln.startswith(("+ ", "- ", "+  ", "-  "))]
    assert added == [
        "+      done: JobError  # seen by dxapi probe: a pending, success or failure state?",
        "-      contributors: {type: int, doc: Number of contributors}",
        "+      contributors: {type: str, doc: Number of contributors}",
        "-      id: {type: str!, doc: Stable run id; poll studio.queryRuns.info with it}",
        "+      id: {type: str, doc: Stable run id; poll studio.queryRuns.info with it}",
        "+      extra: float",
        "+      total: int",
    ]
    assert diff.startswith("--- a/registry/web.yaml\n+++ b/registry/web.yaml\n")


def test_a_new_key_of_an_alias_goes_to_the_method_it_aliases(registry: Path) -> None:
    assert METHODS["snapshots.get"].deprecated
    answer = {"snapshot": {"team_scores": []}, "etag": "x"}
    diff = patch_for([Record("snapshots.get", {}, answer)], registry)
    (hunk,) = [h for h in diff.split("\n@@ ")[1:] if "\n+      etag: str" in h]
    first = int(hunk.split()[1].split(",")[0].lstrip("+"))
    lines = (registry / "web.yaml").read_text().splitlines()
    info, alias = lines.index("  snapshots.info:"), lines.index("  snapshots.get:")
    added = [ln for ln in diff.splitlines() if ln.startswith("+") and not ln.startswith("+++")]
    assert info < first < alias and added == ["+      etag: str"]


def test_patch_needs_the_registry_files(tmp_path: Path) -> None:
    with pytest.raises(PatchError, match="no registry files"):
        patch_for([Record("teams.list", {}, {"teams": [], "x": 1})], tmp_path)


# ---------------------------------------------------------------------- drift


def test_drift_names_a_known_shape_and_a_known_conversion() -> None:
    with pytest.raises(ValueError, match="no generated shape or result class 'Entiti'"):
        FakeDX(drift=[Drift.add_field("Entiti", "x", 1)])
    with pytest.raises(ValueError, match="Team has no field 'x' to change"):
        FakeDX(drift=[Drift.remove_field("Team", "x")])
    with pytest.raises(ValueError, match="'to' must be one of"):
        Drift.retype("Team", "contributors", "decimal")
    assert Drift.retype("Team", "contributors", "str").apply({"contributors": 3}) == {
        "contributors": "3"
    }


async def test_drift_changes_answers_never_the_stored_data() -> None:
    drift = [Drift.add_field("Entity", "tier", "gold")]
    async with FakeDX(drift=drift, entities=3) as fake, fake.client() as dx:
        listed = await dx.call("catalog.entities.list")
        one = await dx.call(
            "catalog.entities.info", identifier=listed["entities"][0]["identifier"]
        )
        typed = await dx.catalog.entities.info(identifier=one["entity"]["identifier"])
    assert {e["tier"] for e in listed["entities"]} == {"gold"} and one["entity"]["tier"] == "gold"
    assert all("tier" not in e for e in fake.store.entities.values())
    assert typed.entity.identifier == one["entity"]["identifier"]  # old code keeps working


def test_a_given_lookup_key_is_not_joined_by_a_sourced_one() -> None:
    got = planned("teams.info", given={"teams.info": {"team_id": "T1"}})
    assert got["teams.info"].args == {"team_id": "T1"} and got["teams.info"].sources == ()


async def test_calls_fill_ids_from_sources_and_survive_failures() -> None:
    calls, _ = plan(
        [METHODS[n] for n in ("catalog.entities.info", "scorecards.info", "teams.list")],
        METHODS,
        {},
    )
    sent: list[tuple[str, dict[str, Any]]] = []

    async def call(spec: Any, args: dict[str, Any]) -> dict[str, Any]:
        sent.append((spec.name, args))
        if spec.name == "catalog.entities.list":
            return {"entities": [{"identifier": ""}, {"identifier": "svc-1"}]}
        if spec.name == "scorecards.list":
            return {"scorecards": []}
        if spec.name == "teams.list":
            raise TransportError("connection reset", method="teams.list")
        return {"entity": {"identifier": args["identifier"]}}

    records = {r.method: r for r in await call_all(calls, call)}
    assert ("catalog.entities.info", {"identifier": "svc-1"}) in sent  # first non-empty value
    assert records["scorecards.info"].error == "no id in the answers of its source"
    assert "connection reset" in (records["teams.list"].error or "")
    assert "scorecards.info" not in {name for name, _ in sent}


async def test_a_refused_token_stops_the_probe() -> None:
    calls, _ = plan([METHODS["teams.list"], METHODS["users.list"]], METHODS, {})

    async def call(spec: Any, args: dict[str, Any]) -> dict[str, Any]:
        raise AuthError("invalid_auth", status=401, method=spec.name)

    with pytest.raises(AuthError):
        await call_all(calls, call)


def test_unknown_recorded_methods_are_listed_not_compared() -> None:
    report = probe_records([Record("catalog.entities.archive", {}, {"ok": True, "x": 1})])
    assert not report.drift
    assert "`catalog.entities.archive`: answered, but the registry has no such method" in (
        report.markdown()
    )


def test_the_patch_says_when_pyyaml_is_missing(
    registry: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "yaml", None)
    with pytest.raises(PatchError, match="needs PyYAML: pip install pyyaml"):
        patch_for([Record("teams.list", {}, {"teams": [], "x": 1})], registry)


def test_an_optional_field_left_out_is_coverage_not_drift() -> None:
    teams = [{"id": f"t{n}", "name": "x"} for n in range(3)]  # no parent_id: DX may omit it
    report = probe_records([Record("teams.list", {}, {"teams": teams})])
    assert not report.drift
    (line,) = [ln for ln in report.markdown().splitlines() if ln.startswith("- `Team`:")]
    assert "`parent_id`" in line and "`id`" not in line.split(":", 1)[1].replace("_id", "")
