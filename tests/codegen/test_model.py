from typing import Any

import pytest

from codegen.model import RegistryError, Type, parse_type
from codegen.render import render
from codegen.validate import build


def test_parse_type() -> None:
    assert parse_type("list<Entity> | str") == Type(
        "union", (Type("list", (Type("shape", name="Entity"),)), Type("str"))
    )
    assert parse_type("map<list<int>>").canonical() == ("map", ("list", "int"))
    with pytest.raises(ValueError, match="unknown type 'integer'"):
        parse_type("integer")


def _problems(files: dict[str, Any]) -> list[str]:
    with pytest.raises(RegistryError) as info:
        build(files)
    return info.value.problems


def _method(**body: Any) -> dict[str, Any]:
    return {"web.yaml": {"api": "web", "methods": {"things.list": {"http": "GET", **body}}}}


def test_every_refusal_names_file_method_and_key() -> None:
    problems = _problems(
        {
            "web.yaml": {
                "api": "web",
                "methods": {
                    "things.list": {
                        "http": "GET",
                        "args": {"limit": {"type": "integer"}},
                        "result": {"things": "list<Thing>"},
                        "paginate": {"items": "things"},
                        "colour": "blue",
                    },
                    "things.put": {"http": "PUT"},
                },
            }
        }
    )
    assert "web.yaml: things.list: args.limit: unknown type 'integer'" in problems
    assert "web.yaml: things.list: colour: unknown method key" in problems
    assert "web.yaml: things.list: result.things: unknown shape 'Thing'" in problems
    assert "web.yaml: things.list: paginate.input: no argument 'cursor'" in problems
    assert "web.yaml: things.put: http: must be GET or POST, got 'PUT'" in problems


def test_duplicate_methods_across_files_are_refused() -> None:
    files = {
        "web.yaml": {"api": "web", "methods": {"a.b": {"http": "GET"}}},
        "datacloud.yaml": {"api": "datacloud", "methods": {"a.b": {"http": "GET"}}},
    }
    assert _problems(files) == [
        "datacloud.yaml: a.b: (method): duplicate method (also in web.yaml)"
    ]


def test_bad_enum_location_and_format() -> None:
    problems = _problems(
        _method(args={"x": {"type": "str", "in": "header", "enum": "a", "format": "epoch"}})
    )
    assert "web.yaml: things.list: args.x.in: must be query or body" in problems
    assert "web.yaml: things.list: args.x.enum: must be a list of strings" in problems
    assert "web.yaml: things.list: args.x.format: must be iso, unix or unix_text" in problems


def test_an_alias_refers_to_its_target() -> None:
    reg = build(
        {
            "web.yaml": {
                "api": "web",
                "methods": {
                    "new.get": {"http": "GET", "args": {"id": "str!"}, "result": {"n": "int"}},
                    "old.get": {"alias_of": "new.get", "deprecated": "Use new.get"},
                    "legacy.get": {"alias_of": "new.get"},  # still current: no warning
                },
            }
        }
    )
    assert reg.methods["legacy.get"].spec.deprecated is None
    old = reg.methods["old.get"].spec
    assert old.deprecated == "Use new.get" and old.alias_of == "new.get"
    assert [a.name for a in old.args] == ["id"] and old.args[0].required
    assert old.idempotent  # GET defaults to idempotent
    assert old.result == "NewGetResult"  # one class: the target's
    assert reg.methods["new.get"].spec.deprecated is None
    files = render(reg)
    specs = " ".join(files["specs.py"].split())
    assert (
        "OLD_GET = attrs.evolve(NEW_GET, name='old.get', deprecated='Use new.get', alias_of='new.get')"
        in specs
    )
    assert 'OldGetResult: TypeAlias = "new.NewGetResult"\n' in files["web/old.py"]
    assert "class OldGetResult" not in files["web/old.py"]


def test_an_alias_of_an_alias_or_of_nothing_is_refused() -> None:
    methods = {
        "new.get": {"http": "GET"},
        "old.get": {"alias_of": "new.get"},
        "older.get": {"alias_of": "old.get"},
        "lost.get": {"alias_of": "gone.get"},
    }
    with pytest.raises(RegistryError) as info:
        build({"web.yaml": {"api": "web", "methods": methods}})
    assert info.value.problems == [
        "web.yaml: older.get: alias_of: an alias 'old.get': name a method entry",
        "web.yaml: lost.get: alias_of: unknown method 'gone.get': name a method entry",
    ]


def test_arguments_may_not_take_the_reserved_names() -> None:
    args = {"extra_query": "str", "extra_body": "str", "extra_headers": "str", "self": "str"}
    with pytest.raises(RegistryError) as info:
        build(_method(args=args))
    assert info.value.problems == [
        f"web.yaml: things.list: args.{n}: reserved: every generated method has this keyword"
        for n in args
    ]


def test_required_markers() -> None:
    reg = build(_method(args={"id": "str!", "n": {"type": "int"}}))
    args = {a.name: a.required for a in reg.methods["things.list"].spec.args}
    assert args == {"id": True, "n": False}


def test_a_method_may_not_hide_a_name_of_its_generated_module() -> None:
    methods = {"things.method": {"http": "GET"}, "things.specs": {"http": "GET"}}
    with pytest.raises(RegistryError) as info:
        build({"web.yaml": {"api": "web", "methods": methods}})
    assert info.value.problems == [
        f"web.yaml: things.{n}: (method): this last part would hide a name of the generated module"
        for n in ("method", "specs")
    ]
