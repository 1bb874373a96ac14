"""Registry keys the whole Web API needed: loose results, bare arrays, spread maps, merges."""

from __future__ import annotations

from typing import Any

import pytest

from codegen.load import parse_text
from codegen.model import RegistryError
from codegen.validate import build


def _build(method: dict[str, Any]) -> Any:
    return build({"web.yaml": {"api": "web", "methods": {"things.get": method}}})


def _problems(method: dict[str, Any]) -> list[str]:
    with pytest.raises(RegistryError) as info:
        _build(method)
    return info.value.problems


def test_a_loose_result_is_one_map_type() -> None:
    reg = _build({"http": "GET", "result": "map<json>"})
    m = reg.methods["things.get"]
    assert m.fields == () and m.result_type is not None and m.result_type.text() == "map<json>"
    assert _problems({"http": "GET", "result": "list<str>"}) == [
        "web.yaml: things.get: result: a result given as a type must be map<...> or json"
    ]


def test_bare_array_must_name_a_list_result_key() -> None:
    ok = _build({"http": "GET", "bare_array": "items", "result": {"items": "list<json>"}})
    assert ok.methods["things.get"].spec.bare_array == "items"
    assert _problems({"http": "GET", "bare_array": "items", "result": {"items": "str"}}) == [
        "web.yaml: things.get: bare_array: must name a list<...> result field"
    ]


def test_prefix_needs_a_map_and_formats_are_checked() -> None:
    reg = _build({"http": "GET", "args": {"vars": {"type": "map<str>", "prefix": "var-"}}})
    assert reg.methods["things.get"].spec.args[0].prefix == "var-"
    problems = _problems(
        {
            "http": "GET",
            "args": {
                "v": {"type": "str", "prefix": "var-"},
                "t": {"type": "datetime", "format": "epoch"},
            },
        }
    )
    assert (
        "web.yaml: things.get: args.v.prefix: needs a map<...> argument and a string" in problems
    )
    assert "web.yaml: things.get: args.t.format: must be iso, unix or unix_text" in problems


def test_yaml_merge_keys_share_arguments_and_duplicates_are_still_refused() -> None:
    doc = parse_text("base: &base {a: 1, b: 2}\nderived:\n  <<: *base\n  b: 3\n  c: 4\n")
    assert doc["derived"] == {"a": 1, "b": 3, "c": 4}
    with pytest.raises(Exception, match="duplicate key 'a'"):
        parse_text("x:\n  a: 1\n  a: 2\n")
