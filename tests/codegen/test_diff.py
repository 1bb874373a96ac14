"""``python -m codegen --diff``: added, removed and changed methods, and what breaks callers."""

from __future__ import annotations

import copy
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs
import pytest

from codegen.diff import Change, accepts, diff_registries, format_changes
from codegen.load import load_files
from codegen.model import Registry, parse_type
from codegen.validate import build
from dxapi._spec import ArgSpec, KeyedRate, MethodSpec, PageSpec, WaitDelay, WaiterSpec

SMALL = Path(__file__).parent / "fixtures" / "small"
ROOT = Path(__file__).resolve().parents[2]


def _changes(edit: Callable[[dict[str, Any]], None]) -> list[Change]:
    old = load_files(SMALL)
    new = copy.deepcopy(old)
    edit(new["web.yaml"])
    return diff_registries(build(old), build(new))


def _lines(changes: list[Change]) -> list[str]:
    return [c.line() for c in changes]


def _methods(doc: dict[str, Any]) -> dict[str, Any]:
    methods: dict[str, Any] = doc["methods"]
    return methods


def test_identical_registries_have_no_changes() -> None:
    assert _changes(lambda doc: None) == []


def test_added_method_and_optional_argument_do_not_break() -> None:
    def edit(doc: dict[str, Any]) -> None:
        _methods(doc)["gadgets.count"] = {"http": "GET", "scope": "gadgets:read"}
        _methods(doc)["gadgets.list"]["args"]["color"] = {"type": "str"}

    lines = _lines(_changes(edit))
    assert "+ method gadgets.count: added (GET)" in lines
    assert "+ method gadgets.list arg color: str (optional)" in lines
    assert not any("BREAKING" in line for line in lines)


def test_removed_method_breaks() -> None:
    changes = _changes(lambda doc: _methods(doc).pop("gadgets.delete"))
    assert _lines(changes) == ["- method gadgets.delete: removed  BREAKING"]


def test_new_required_argument_breaks() -> None:
    def edit(doc: dict[str, Any]) -> None:
        _methods(doc)["gadgets.info"]["args"]["version"] = {"type": "int!"}

    lines = _lines(_changes(edit))
    assert "+ method gadgets.info arg version: int (required)  BREAKING" in lines
    assert "+ method gadgets.old arg version: int (required)  BREAKING" in lines  # its alias


def test_optional_made_required_and_removed_argument_break() -> None:
    def edit(doc: dict[str, Any]) -> None:
        args = _methods(doc)["gadgets.list"]["args"]
        args["limit"] = {"type": "int!"}
        del args["kind"]

    lines = _lines(_changes(edit))
    assert "~ method gadgets.list arg limit: now required  BREAKING" in lines
    assert "- method gadgets.list arg kind: removed  BREAKING" in lines


def test_narrowed_argument_type_and_enum_break_widened_ones_do_not() -> None:
    def narrow(doc: dict[str, Any]) -> None:
        args = _methods(doc)["gadgets.list"]["args"]
        args["cursor"] = {"type": "int"}
        args["kind"]["enum"] = ["big"]

    lines = _lines(_changes(narrow))
    assert "~ method gadgets.list arg cursor: type str → int (narrowed)  BREAKING" in lines
    assert (
        "~ method gadgets.list arg kind: allowed values ['big', 'small'] → ['big']  BREAKING"
        in lines
    )

    def widen(doc: dict[str, Any]) -> None:
        args = _methods(doc)["gadgets.list"]["args"]
        args["limit"] = {"type": "int | str"}
        args["kind"]["enum"] = ["big", "small", "tiny"]

    lines = _lines(_changes(widen))
    assert "~ method gadgets.list arg limit: type int → int | str (widened)" in lines
    assert not any("BREAKING" in line for line in lines)


def test_removed_result_key_and_shape_field_break() -> None:
    def edit(doc: dict[str, Any]) -> None:
        del _methods(doc)["gadgets.list"]["result"]["response_metadata"]
        del doc["shapes"]["Gadget"]["fields"]["tags"]

    lines = _lines(_changes(edit))
    assert "- method gadgets.list result response_metadata: removed  BREAKING" in lines
    assert "- shape Gadget field tags: removed  BREAKING" in lines


def test_result_field_no_longer_always_sent_breaks_a_new_one_does_not() -> None:
    def edit(doc: dict[str, Any]) -> None:
        doc["shapes"]["Gadget"]["fields"]["id"] = "str"
        doc["shapes"]["Gadget"]["fields"]["weight"] = "float"

    lines = _lines(_changes(edit))
    assert "~ shape Gadget field id: may now be missing or null  BREAKING" in lines
    assert "+ shape Gadget field weight: float" in lines


def test_http_verb_and_pagination_changes() -> None:
    def edit(doc: dict[str, Any]) -> None:
        del _methods(doc)["gadgets.list"]["paginate"]
        _methods(doc)["gadgets.delete"]["scope"] = "gadgets:admin"

    lines = _lines(_changes(edit))
    assert "~ method gadgets.list: no longer paginated  BREAKING" in lines
    assert "~ method gadgets.delete: scope gadgets:write → gadgets:admin" in lines


@pytest.mark.parametrize(
    ("new", "old", "ok"),
    [
        ("json", "list<str>", True),
        ("float", "int", True),
        ("int", "float", False),
        ("str | int", "int", True),
        ("str", "str | int", False),
        ("list<str | int>", "list<str>", True),
        ("map<str>", "map<json>", False),
        ("Gadget", "Gadget", True),
        ("Gadget", "Widget", False),
    ],
)
def test_accepts(new: str, old: str, ok: bool) -> None:
    assert accepts(parse_type(new), parse_type(old)) is ok


def test_report_summarises() -> None:
    text = format_changes([Change("-", "method a.b", "removed", breaking=True)], "v1", "now")
    assert text.splitlines() == [
        "registry diff: v1 → now",
        "- method a.b: removed  BREAKING",
        "0 added, 1 removed, 0 changed; 1 breaking change(s)",
    ]
    assert format_changes([], "v1", "now").splitlines()[1:] == [
        "(no changes)",
        "0 added, 0 removed, 0 changed; nothing breaks callers",
    ]


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "codegen", *args], cwd=ROOT, capture_output=True, text=True
    )


def test_cli_compares_a_registry_folder(tmp_path: Path) -> None:
    new = tmp_path / "registry"
    shutil.copytree(SMALL, new)
    same = _run("--diff", str(SMALL), "--registry", str(new))
    assert same.returncode == 0, same.stderr
    assert "nothing breaks callers" in same.stdout
    web = new / "web.yaml"
    web.write_text(
        web.read_text(encoding="utf-8").replace(
            "      id: {type: str!, in: query", "      idx: {type: str!, in: query"
        ),
        encoding="utf-8",
    )
    broke = _run("--diff", str(SMALL), "--registry", str(new))
    assert broke.returncode == 1
    assert "- method gadgets.delete arg id: removed  BREAKING" in broke.stdout
    assert "+ method gadgets.delete arg idx: str (required)  BREAKING" in broke.stdout


def test_cli_compares_a_git_revision(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    shutil.copytree(SMALL, repo / "registry")
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "registry"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "registry"], check=True)
    web = repo / "registry" / "web.yaml"
    web.write_text(
        web.read_text(encoding="utf-8") + "\n  gadgets.count:\n    http: GET\n", encoding="utf-8"
    )
    added = _run("--diff", "HEAD", "--registry", str(repo / "registry"))
    assert added.returncode == 0, added.stderr
    assert "+ method gadgets.count: added (GET)" in added.stdout
    missing = _run("--diff", "no-such-rev", "--registry", str(repo / "registry"))
    assert missing.returncode == 2


# ------------------------------------------------- every part of a method, waiters, dialects

REGISTRY = build(load_files(ROOT / "registry"))
RESULTS = "studio.queryRuns.results"  # rate-limited, pending_error, its args have enums


def _with_spec(name: str, **changes: Any) -> Registry:
    method = REGISTRY.methods[name]
    spec = attrs.evolve(method.spec, **changes)
    return attrs.evolve(
        REGISTRY, methods={**REGISTRY.methods, name: attrs.evolve(method, spec=spec)}
    )


def _with_waiter(name: str, **changes: Any) -> Registry:
    waiter = REGISTRY.waiters[name]
    spec = attrs.evolve(waiter.spec, **changes)
    waiters = {**REGISTRY.waiters, name: attrs.evolve(waiter, spec=spec)}
    return attrs.evolve(REGISTRY, waiters=waiters)


#: Another value for every field of a MethodSpec (the registry test below fails when a field
#: is added without one, so no part of a method can escape the diff).
OTHER_METHOD_VALUES: dict[str, Any] = {
    "http": "POST",
    "api": "datacloud",
    "scope": "studio:admin",
    "args": (),
    "idempotent": False,
    "summary": "Something else",
    "page": PageSpec(items="rows"),
    "deprecated": "Use another method",
    "rate_limit": KeyedRate(requests=20, per=5.0, key="id"),
    "upload": "file",
    "download": True,
    "pending_error": None,
    "idempotent_when": "idempotency_key",
    "result": "OtherResult",
    "bare_array": "rows",
    "alias_of": "studio.queryRuns.info",
    "path_template": "/v2/results/{id}",
    "success": (200, 204),
}


def test_the_table_gives_every_method_spec_field_another_value() -> None:
    fields = {f.name for f in attrs.fields(MethodSpec) if f.init}  # the rest is derived
    # a method's name is its identity (removed + added); its dialect is compared once per API
    assert set(OTHER_METHOD_VALUES) == fields - {"name", "dialect"}


@pytest.mark.parametrize("field", sorted(OTHER_METHOD_VALUES))
def test_a_change_in_any_field_of_a_method_is_reported(field: str) -> None:
    value = OTHER_METHOD_VALUES[field]
    assert getattr(REGISTRY.methods[RESULTS].spec, field) != value
    lines = _lines(diff_registries(REGISTRY, _with_spec(RESULTS, **{field: value})))
    assert any(line[2:].startswith(f"method {RESULTS}") for line in lines), (field, lines)


@pytest.mark.parametrize(
    ("changes", "line"),
    [
        ({"rate_limit": KeyedRate(20, 5.0, "id")}, "~ method {m}: rate_limit.requests 10 → 20"),
        ({"rate_limit": None}, "~ method {m}: rate_limit KeyedRate(requests=10, per=5.0, key=id) → none"),
        ({"pending_error": None}, "~ method {m}: pending_error execution_not_complete → none  BREAKING"),
        ({"idempotent": False}, "~ method {m}: idempotent True → False"),
        ({"idempotent_when": "key"}, "~ method {m}: idempotent_when none → key"),
        ({"download": True}, "~ method {m}: download False → True  BREAKING"),
        ({"page": PageSpec(items="rows")}, "~ method {m}: now paginated"),
        ({"summary": "New words"}, "~ method {m}: summary changed"),
    ],
)  # fmt: skip
def test_method_spec_changes_say_what_changed_and_whether_it_breaks(
    changes: dict[str, Any], line: str
) -> None:
    lines = _lines(diff_registries(REGISTRY, _with_spec(RESULTS, **changes)))
    assert lines == [line.format(m=RESULTS)]


def test_pagination_changes_are_reported_field_by_field() -> None:
    name = "catalog.entities.list"
    page = REGISTRY.methods[name].spec.page
    assert page is not None
    for field in attrs.fields(PageSpec):
        value = getattr(page, field.name)
        other = {str: f"{value}_x", type(None): "pages.total"}.get(type(value), "page")
        lines = _lines(
            diff_registries(
                REGISTRY, _with_spec(name, page=attrs.evolve(page, **{field.name: other}))
            )
        )
        assert lines == [f"~ method {name}: pagination {field.name} {value or 'none'} → {other}"]


def test_a_change_in_any_field_of_an_argument_is_reported() -> None:
    spec = REGISTRY.methods[RESULTS].spec
    arg = spec.arg("format")
    assert arg is not None
    others = {"name": "fmt", "type": "int", "required": True, "doc": "x", "location": "body",
              "enum": ("json",), "format": "unix", "default": "csv", "prefix": "f-", "nullable": True}  # fmt: skip
    assert set(others) == {f.name for f in attrs.fields(ArgSpec)}
    for field, value in others.items():
        args = tuple(attrs.evolve(a, **{field: value}) if a is arg else a for a in spec.args)
        lines = _lines(diff_registries(REGISTRY, _with_spec(RESULTS, args=args)))
        assert any(f"method {RESULTS} arg f" in line for line in lines), (field, lines)


#: Another value for every field of a WaiterSpec, and whether that change breaks callers.
OTHER_WAITER_VALUES: dict[str, tuple[Any, bool]] = {
    "poll": ("studio.queryRuns.results", False),
    "id_arg": ("run_id", False),
    "status": ("query_run.state", False),
    "pending": (("queued", "running"), True),  # a run "started" would now be unexpected
    "success": (("succeeded", "done"), False),
    "failure": ((("failed", "QueryRunFailedError"),), True),  # "expired" is no longer known
    "job": ("run", True),  # what the wait returns
    "error": (None, False),
    "start": (None, False),
    "start_id": ("id", False),
    "timeout_error": ("JobError", True),  # the class callers catch
    "delay": (WaitDelay(initial=2.0), False),
    "doc": ("Another", False),
}


def test_the_table_gives_every_waiter_spec_field_another_value() -> None:
    assert set(OTHER_WAITER_VALUES) == {f.name for f in attrs.fields(WaiterSpec)} - {"name"}


@pytest.mark.parametrize("field", sorted(OTHER_WAITER_VALUES))
def test_a_change_in_any_field_of_a_waiter_is_reported(field: str) -> None:
    value, breaking = OTHER_WAITER_VALUES[field]
    assert getattr(REGISTRY.waiters["queryRun"].spec, field) != value
    changes = diff_registries(REGISTRY, _with_waiter("queryRun", **{field: value}))
    assert [(c.subject, c.breaking) for c in changes] == [("waiter queryRun", breaking)]


def test_waiter_lines_name_the_states_and_the_delay() -> None:
    changes = diff_registries(REGISTRY, _with_waiter("queryRun", delay=WaitDelay(1.0, 20.0, 1.5)))
    assert _lines(changes) == ["~ waiter queryRun: delay.max 10.0 → 20.0"]
    failure = (("failed", "QueryRunFailedError"), ("expired", "JobError"))
    changes = diff_registries(REGISTRY, _with_waiter("queryRun", failure=failure))
    assert _lines(changes) == [
        "~ waiter queryRun: failure states [[failed, QueryRunFailedError], [expired, "
        "QueryRunExpiredError]] → [[failed, QueryRunFailedError], [expired, JobError]]  BREAKING"
    ]


def test_added_and_removed_waiters() -> None:
    waiters = dict(REGISTRY.waiters)
    del waiters["workflowRun"]
    smaller = attrs.evolve(REGISTRY, waiters=waiters)
    assert _lines(diff_registries(REGISTRY, smaller)) == [
        "- waiter workflowRun: removed  BREAKING"
    ]
    assert _lines(diff_registries(smaller, REGISTRY)) == ["+ waiter workflowRun: added"]


def test_a_rest_dialect_change_is_reported_once() -> None:
    sigma = REGISTRY.dialects["sigma"]
    changed = attrs.evolve(sigma, base_url="https://other.example.com", doc="Other words")
    new = attrs.evolve(REGISTRY, dialects={**REGISTRY.dialects, "sigma": changed})
    assert _lines(diff_registries(REGISTRY, new)) == [
        f"~ dialect sigma: base_url {sigma.base_url} → https://other.example.com",
        "~ dialect sigma: doc changed",
    ]
