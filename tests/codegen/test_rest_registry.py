"""The REST dialect of the registry: what codegen accepts, renders and refuses."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from codegen.diff import diff_registries
from codegen.load import load_files
from codegen.model import RegistryError
from codegen.render import render
from codegen.validate import build
from dxapi._dialect import API_KEY, BEARER

ROOT = Path(__file__).resolve().parents[2]


def peer(**methods: Any) -> dict[str, Any]:
    return {
        "api": "acme",
        "rest": {
            "base_url": "https://{host}/v1",
            "auth": ["bearer", {"header": "X-API-Key"}],
            "envelope": {"data": "data", "code": "error_code", "message": "message"},
            "rate_headers": {"remaining": "X-RateLimit-Remaining", "reset": "X-RateLimit-Reset"},
        },
        "methods": methods
        or {
            "teams.update": {
                "http": "PATCH",
                "path": "/teams/{teamId}",
                "args": {"teamId": {"type": "str!", "in": "path"}, "name": "str"},
                "result": "map<json>",
            }
        },
    }


def problems(doc: dict[str, Any], file: str = "peers/acme.yaml") -> list[str]:
    with pytest.raises(RegistryError) as err:
        build({file: doc})
    return err.value.problems


def test_a_well_formed_rest_api_builds_its_dialect_and_specs() -> None:
    reg = build({"peers/acme.yaml": peer()})
    dialect = reg.dialects["acme"]
    assert dialect.auth == (BEARER, API_KEY)
    assert dialect.envelope.data == "data" and dialect.rate_headers is not None
    spec = reg.methods["acme:teams.update"].spec
    assert spec.http == "PATCH" and spec.path == "/teams/{teamId}"
    assert spec.success == (200, 204) and spec.idempotent is False and spec.dialect == dialect
    assert spec.arg("teamId") is not None and spec.arg("teamId").location == "path"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("verb", "idempotent"), [("GET", True), ("PUT", True), ("DELETE", True), ("POST", False)]
)
def test_idempotent_by_default_for_get_put_delete(verb: str, idempotent: bool) -> None:
    doc = peer(**{"teams.x": {"http": verb, "path": "/teams", "result": "map<json>"}})
    assert build({"peers/acme.yaml": doc}).methods["acme:teams.x"].spec.idempotent is idempotent


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (
            lambda m: m.update(http="FETCH"),
            "teams.update: http: must be GET, POST, PUT, PATCH or DELETE",
        ),
        (lambda m: m.update(path="/teams/{teamId}/{other}"), "{other} is not declared"),
        (lambda m: m.update(path="/teams"), "args.teamId: declared in: path but not in the path"),
        (lambda m: m.pop("path"), "path: a REST method needs a path"),
        (
            lambda m: m["args"].update(teamId={"type": "str", "in": "path"}),
            "a required str or int",
        ),
        (lambda m: m.update(success=[200, 404]), "success: must be a list of 2xx statuses"),
        (
            lambda m: m["args"].update(x={"type": "str", "in": "cookie"}),
            "args.x.in: must be query",
        ),
        (lambda m: m.update(alias_of="teams.update"), "alias_of"),
        (lambda m: m.update(verb="PATCH"), "verb: unknown method key"),
        (lambda m: m["args"].update(team_id="str"), "another argument is also team_id="),
    ],
)
def test_ill_formed_rest_methods_are_refused_naming_file_and_method(
    edit: Any, expected: str
) -> None:
    doc = peer()
    edit(doc["methods"]["teams.update"])
    found = problems(doc)
    assert any(p.startswith("peers/acme.yaml: teams.update: ") for p in found), found
    assert any(expected in p for p in found), found


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (lambda r: r.pop("auth"), "rest.auth: missing"),
        (lambda r: r.pop("envelope"), "rest.envelope: missing"),
        (lambda r: r.update(auth=["basic"]), "use bearer or {header: NAME}"),
        (lambda r: r.update(base_url="http://{host}"), "must be an https:// URL"),
        (lambda r: r.update(paging="x"), "rest.paging: unknown key"),
        (lambda r: r["envelope"].update(status="status"), "a status key needs its values"),
        (lambda r: r.update(rate_headers={"remaining": "X"}), "needs remaining and reset"),
        (lambda r: r.update(headers={"key": "X-API-Key"}), "X-API-Key is set by dxapi itself"),
    ],
)
def test_ill_formed_rest_blocks_are_refused(edit: Any, expected: str) -> None:
    doc = peer()
    edit(doc["rest"])
    found = problems(doc)
    assert any(p.startswith("peers/acme.yaml: (rest): ") and expected in p for p in found), found


def test_a_peer_file_without_a_rest_block_is_refused() -> None:
    doc = peer()
    del doc["rest"]
    assert any("rest: must be a mapping" in p for p in problems(doc))


def test_dx_files_keep_the_rpc_dialect() -> None:
    web = {
        "api": "web",
        "methods": {"teams.x": {"http": "PATCH", "path": "/x", "args": {"teamId": "str"}}},
    }
    found = problems(web, "web.yaml")
    assert "web.yaml: teams.x: http: must be GET or POST, got 'PATCH'" in found
    web["methods"]["teams.x"]["http"] = "GET"
    found = problems(web, "web.yaml")
    assert "web.yaml: teams.x: path: unknown method key" in found
    assert any("args.teamId: argument names are snake_case" in p for p in found)


def test_shapes_do_not_cross_between_apis() -> None:
    doc = peer(**{"teams.list": {"http": "GET", "path": "/teams", "result": {"t": "Entity"}}})
    files = {**load_files(ROOT / "registry"), "peers/acme.yaml": doc}
    assert any("'Entity' belongs to another API" in p for p in problems_of(files))


def problems_of(files: dict[str, Any]) -> list[str]:
    with pytest.raises(RegistryError) as err:
        build(files)
    return err.value.problems


def test_peers_render_beside_dx_without_changing_its_files() -> None:
    files = load_files(ROOT / "registry")
    dx_only = {k: v for k, v in files.items() if not k.startswith("peers/")}
    with_peers = render(build(files))
    without = render(build(dx_only))
    assert {k: v for k, v in with_peers.items() if not k.startswith("peers/")} == without
    assert "peers/sigma/specs.py" in with_peers and "peers/datalinx/mappings.py" in with_peers
    assert "dialect=DIALECT" in with_peers["peers/sigma/specs.py"]


def test_a_moved_path_is_a_breaking_change() -> None:
    old = {"peers/acme.yaml": peer()}
    new = copy.deepcopy(old)
    new["peers/acme.yaml"]["methods"]["teams.update"]["path"] = "/v2/teams/{teamId}"
    changes = diff_registries(build(old), build(new))
    assert [c.breaking for c in changes] == [True]
    assert "path /teams/{teamId} → /v2/teams/{teamId}" in changes[0].line()


@pytest.mark.parametrize("api", ["sigma", "datagalaxy", "datalinx"])
def test_a_peer_specs_module_gives_back_the_objects_codegen_built(api: str) -> None:
    reg = build(load_files(ROOT / "registry")).peer(api)
    namespace: dict[str, object] = {}
    exec(
        compile(
            render(build(load_files(ROOT / "registry")))[f"peers/{api}/specs.py"], "s", "exec"
        ),
        namespace,
    )
    assert namespace["METHODS"] == {m.name: m.spec for m in reg.methods.values()}
    assert namespace["DIALECT"] == reg.dialects[api]


def test_an_api_level_paginate_style_is_what_methods_start_from() -> None:
    doc = peer(
        **{
            "teams.list": {
                "http": "GET",
                "path": "/teams",
                "args": {"page": "str", "limit": "int", "size": "int"},
                "result": {"entries": "list<map<json>>!", "nextPage": "str"},
                "paginate": True,
            },
            "members.list": {
                "http": "GET",
                "path": "/members",
                "args": {"page": "str", "size": "int"},
                "result": {"entries": "list<map<json>>!", "nextPage": "str"},
                "paginate": {"limit": "size"},
            },
        }
    )
    doc["rest"]["paginate"] = {"items": "entries", "input": "page", "output": "nextPage"}
    reg = build({"peers/acme.yaml": doc})
    teams = reg.methods["acme:teams.list"].spec.page
    members = reg.methods["acme:members.list"].spec.page
    assert teams is not None and (teams.items, teams.output, teams.limit) == (
        "entries",
        "nextPage",
        "limit",
    )
    assert members is not None and members.limit == "size" and members.input == "page"
    doc["rest"]["paginate"]["pages"] = "x"
    assert any("rest.paginate.pages: unknown pagination key" in p for p in problems(doc))
