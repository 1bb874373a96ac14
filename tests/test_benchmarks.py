"""The benchmark modules import, their pure helpers compute right, the mini server paginates."""

from __future__ import annotations

import asyncio
import importlib
import sys
from typing import Any

import attrs
import pytest

import dxapi
from benchmarks import _calls, _common, _mini, pagination, structuring, verdicts
from dxapi.types import AliasEntry, Entity, Ref

MODULES = ("__main__", "bulk", "instructions", "limiter", "listpage", "pagination", "percall", "report",
           "startup", "streaming", "structuring", "verdicts", "_calls", "_common", "_mini", "_server")  # fmt: skip


@pytest.mark.parametrize("name", MODULES)
def test_module_imports(name: str) -> None:
    importlib.import_module(f"benchmarks.{name}")


def test_other_load_subtracts_our_cpu_and_spreads_over_cores() -> None:
    # 3 CPU-seconds busy in 2 s on 2 cores, 1 of them ours: 2 of 4 core-seconds are others'.
    assert _common.other_load(3.0, 1.0, 2.0, 2) == pytest.approx(0.5)
    assert _common.other_load(1.0, 1.5, 2.0, 2) == 0.0  # clock skew never goes negative
    assert _common.other_load(9.0, 0.0, 1.0, 2) == 1.0
    assert _common.other_load(1.0, 0.0, 0.0, 2) == 0.0


def test_sample_repeats_a_disturbed_reading_and_keeps_the_least_disturbed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ctx = _common.Ctx(wait_budget=0.0, repeat_budget=100.0)
    readings = iter([0.5, 0.3, 0.4])
    loads: list[float] = []

    def fake_other_load(*_: Any) -> float:
        loads.append(next(readings))
        return loads[-1]

    monkeypatch.setattr(_common, "other_load", fake_other_load)
    res = _common.sample(ctx, lambda: {"n": len(loads)}, label="t")
    assert len(loads) == 1 + _common.MAX_REPEATS
    assert res["other_load"] == 0.3 and res["n"] == 1 and res["repeats"] == 2
    assert ctx.sampled == [
        {"label": "t", "workload": "", "repeats": 2, "over": True, "budget_spent": False}
    ]
    quiet = iter([0.02])
    monkeypatch.setattr(_common, "other_load", lambda *_: next(quiet))
    assert _common.sample(ctx, dict, label="q")["repeats"] == 0


def test_ratios_against_the_floor_are_the_median_of_each_runs_own() -> None:
    # Run 2 was slow for everyone: paired with its own floor it is like the others.
    floor = {"runs": [{"per_s": 1000.0, "cpu_us": 100.0}, {"per_s": 500.0, "cpu_us": 200.0},
                      {"per_s": 1000.0, "cpu_us": 100.0}]}  # fmt: skip
    cell: dict[str, Any] = {
        "runs": [{"per_s": 900.0, "cpu_us": 125.0}, {"per_s": 450.0, "cpu_us": 250.0}, None]
    }
    _calls.vs_floor(cell, floor)
    assert cell["vs_floor"] == pytest.approx(0.9)
    assert cell["cpu_vs_floor"] == pytest.approx(0.8)
    empty: dict[str, Any] = {"runs": [None, None]}
    _calls.vs_floor(empty, floor)
    assert "vs_floor" not in empty


def test_pagination_growth_is_cost_at_64_over_cost_at_1() -> None:
    cells = {"1": {"cpu_us": 800.0}, "64": {"cpu_us": 1000.0}}
    assert pagination.growth(cells, "cpu_us") == pytest.approx(1.25)
    assert pagination.growth({"1": {"cpu_us": 800.0}}, "cpu_us") is None


def test_a_block_must_fit_the_default_bucket() -> None:
    assert _calls.check_bucket("info", 1, 880, 100) == 980
    assert _calls.check_bucket("iterate", 14, 64, 64) == 64 + 64 * 14
    with pytest.raises(ValueError, match="bucket"):
        _calls.check_bucket("iterate", 20, 64, 64)


def test_structuring_is_typed_minus_raw() -> None:
    lp = {"clients": {c: {"64": {"cpu_us": us}} for c, us in
                      (("dxapi", 900.0), ("dxapi-raw", 400.0), ("floor", 300.0))}}  # fmt: skip
    d = structuring.derive(lp)
    assert d is not None
    assert d["per_page_us"] == 500.0 and d["per_entity_us"] == 5.0
    assert structuring.derive({"error": "x"}) is None


def _results(info: tuple[float, float], growth: tuple[float, float], ms: float) -> dict[str, Any]:
    cell = {"cpu_vs_floor": info[0], "vs_floor": info[1]}
    return {
        "percall": {"servers": ["mini"], "mini": {"clients": {"dxapi": {"64": cell},
                                                              "dxapi-raw": {"64": cell}}}},
        "listpage": {"clients": {"dxapi": {"64": cell}}},
        "pagination": {"growth": {"dxapi": {"cpu": growth[0], "wall": growth[1]}}},
        "startup": {"first_call": {"added_wall_ms": ms, "added_cpu_ms": ms}},
    }  # fmt: skip


def test_goals_need_both_cpu_and_wall() -> None:
    rows = verdicts.goals(_results((0.96, 0.97), (1.1, 0.9), 30.0))
    assert [r["status"] for r in rows] == ["MET"] * 5
    rows = verdicts.goals(_results((0.92, 0.75), (1.1, 1.3), 41.0))
    assert [r["status"] for r in rows] == ["MISS", "MISS", "MISS", "MISS", "MISS"]
    rows = verdicts.goals(_results((0.92, 0.91), (1.1, 0.9), 30.0))
    assert [r["status"] for r in rows] == ["MET", "MISS", "MET", "MET", "MET"]
    assert [r["status"] for r in verdicts.goals({})] == ["n/a"] * 5


def _every_field(cls: type, payload: dict[str, Any]) -> None:
    assert {f.name for f in attrs.fields(cls)} <= set(payload), cls.__name__


def test_mini_entities_carry_every_field_of_entity() -> None:
    page = _mini.page(0, 2)
    assert len(page["entities"]) == _mini.PAGE_SIZE
    for e in page["entities"]:
        _every_field(Entity, e)
        for ref in e["owner_teams"] + e["owner_users"]:
            assert set(ref) <= {f.name for f in attrs.fields(Ref)}
        for entry in e["aliases"]["github_repo"]:
            assert set(entry) <= {f.name for f in attrs.fields(AliasEntry)}
    assert _mini.page(1, 2)["response_metadata"]["next_cursor"] is None


async def test_the_mini_server_serves_a_listing_a_default_client_walks() -> None:
    server = _mini.MiniServer(pages=3)
    await server.start()
    try:
        async with dxapi.Client(server.token, base_url=server.url) as dx:
            typed = [e.identifier async for e in dx.catalog.entities.list(limit=100)]
            first = await dx.catalog.entities.list(limit=100)
            info = await dx.catalog.entities.info(identifier="service-00000")
        assert len(typed) == 300 and len(set(typed)) == 300
        assert first.entities is not None and first.entities[99].owner_users is not None
        assert info.entity.identifier == "service-00000"
        assert server.counters.accepted == 5
        reader, writer = await asyncio.open_connection(*server.url[7:].split(":"))
        writer.write(b"GET /catalog.entities.list?cursor=c9 HTTP/1.1\r\nHost: x\r\n\r\n")
        head = await reader.readuntil(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 404")
        writer.close()
        await writer.wait_closed()
    finally:
        await server.stop()


async def test_drive_counts_every_item_under_concurrency() -> None:
    async def unit() -> int:
        await asyncio.sleep(0)
        return 3

    elapsed, errors, items = await _calls._drive(unit, 100, 16)
    assert (errors, items) == (0, 300) and elapsed >= 0


def test_a_shared_limit_result_is_run_judged_and_rendered(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.machinery
    import types

    from benchmarks import __main__ as main
    from benchmarks import report

    mode = {"elapsed": 14.2, "range": [14.1, 14.3], "vs_ideal": 1.014, "from_start": 14.5,
            "server_429": 0, "errors": 0, "max_in_window": 200}  # fmt: skip
    shape = {"workers": 8, "per_worker": 200, "limit": 200, "per": 2.0, "ideal": 14.0,
             "modes": {"redis": mode}, "overhead": {}}  # fmt: skip
    module = types.ModuleType("benchmarks.shared_limit")
    module.__spec__ = importlib.machinery.ModuleSpec("benchmarks.shared_limit", None)
    vars(module).update(run=lambda ctx: shape)
    if verdicts.shared_limit_module() is None:
        assert "Not present" in report._shared_limit(None, False)[-1]
    monkeypatch.setitem(sys.modules, "benchmarks.shared_limit", module)
    result = main._shared_limit(_common.Ctx())
    assert result is shape
    target = verdicts.targets({"shared_limit": result})[-1]
    assert target["status"] == "MET" and "1.014" in target["value"]
    rows = [ln for ln in report._shared_limit(result, True) if ln.startswith("| redis |")]
    assert rows and "| 14.20 |" in rows[0] and "| 1.014 |" in rows[0]


def test_the_instruction_count_needs_valgrind_and_renders_its_ratios(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from benchmarks import instructions, report

    monkeypatch.setattr(instructions.shutil, "which", lambda name: None)
    missing = instructions.run(_common.Ctx())
    assert "valgrind is not installed" in missing["error"]
    result = {"calls": 700, "clients": {"floor": {"instructions": 400_000.0, "vs_floor": 1.0},
                                        "dxapi": {"instructions": 440_000.0, "vs_floor": 0.909}}}  # fmt: skip
    text = "\n".join(report._instructions(result, True))
    assert "| dxapi | 440,000 | 0.909 |" in text
    assert "Not run." in report._instructions(None, False)
