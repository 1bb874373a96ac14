"""``python -m codegen --diff``: added, removed and changed methods, and what breaks callers."""

from __future__ import annotations

import copy
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from codegen.diff import Change, accepts, diff_registries, format_changes
from codegen.load import load_files
from codegen.model import parse_type
from codegen.validate import build

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
