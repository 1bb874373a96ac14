"""Every registry method is reachable, keyword-only, and the public names are complete."""

from __future__ import annotations

import inspect
import subprocess
import sys

import dxapi
from codegen.naming import py_name
from dxapi._generated.specs import METHODS
from dxapi._methods import spec_of
from dxapi._spec import EXTRAS
from dxapi.types import result_type


def _resolve(client: object, name: str) -> object:
    target = client
    for part in name.split("."):
        target = getattr(target, py_name(part))
    return target


def test_every_method_is_reachable_and_keyword_only() -> None:
    clients = {
        "web": dxapi.Client(token="t"),
        "datacloud": dxapi.DataCloudClient(token="t", instance="acme"),
    }
    for name, spec in METHODS.items():
        method = _resolve(clients[spec.api], name)
        assert callable(method), name
        params = list(inspect.signature(method).parameters.values())  # type: ignore[arg-type]
        assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in params), name
        wire = {a.name for a in spec.args} | set(EXTRAS)
        assert {p.name.rstrip("_") for p in params} == wire, name
        assert spec_of(method) is spec, name  # type: ignore[arg-type]


def test_all_is_sorted_and_complete() -> None:
    public = {n for n in dir(dxapi) if not n.startswith("_") and n[0].isupper()}

    def isort_style(name: str) -> tuple[int, str]:  # constants, classes, then the rest
        return (0 if name.isupper() else 1 if name[0].isupper() else 2, name)

    assert list(dxapi.__all__) == sorted(dxapi.__all__, key=isort_style)
    assert public <= set(dxapi.__all__)


def test_client_lists_its_methods() -> None:
    web = dxapi.Client.methods()
    assert "catalog.entities.list" in web
    assert all(spec.api == "web" for spec in web.values())


def test_every_method_is_reachable_on_the_sync_clients() -> None:
    import typing

    from dxapi._sync import SyncCursorCall, SyncNamespace, SyncStream

    with (
        dxapi.SyncClient(token="t") as web,
        dxapi.SyncDataCloudClient(token="t", instance="acme") as dc,
    ):
        clients = {"web": web, "datacloud": dc}
        for name, spec in METHODS.items():
            method = _resolve(clients[spec.api], name)
            owner = method if isinstance(method, SyncNamespace) else method.__self__  # type: ignore[attr-defined]
            assert isinstance(owner, SyncNamespace), name
            function = type(method).__call__ if isinstance(method, SyncNamespace) else method
            params = list(inspect.signature(method).parameters.values())  # type: ignore[arg-type]
            assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in params), name
            names = {p.name.rstrip("_") for p in params}
            assert names == {a.name for a in spec.args} | set(EXTRAS), name
            required = {p.name.rstrip("_") for p in params if p.default is inspect.Parameter.empty}
            assert required == {a.name for a in spec.args if a.required}, name
            returns = typing.get_type_hints(function)["return"]
            result = result_type(spec)
            if spec.download:
                assert returns == SyncStream[bytes], name
            elif spec.page is not None:
                assert typing.get_origin(returns) is SyncCursorCall, name
                assert typing.get_args(returns)[0] == result, name
            else:
                assert returns == result, name


def test_no_two_classes_in_the_runtime_share_a_name() -> None:
    import ast
    import pathlib

    root = pathlib.Path(dxapi.__file__).parent
    where: dict[str, list[str]] = {}
    for path in sorted(root.rglob("*.py")):
        if "_generated" in path.relative_to(root).parts:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ClassDef):
                where.setdefault(node.name, []).append(str(path.relative_to(root)))
    assert {name: paths for name, paths in where.items() if len(paths) > 1} == {}


#: Runtime modules whose tests live in a file named for the feature, not the module.
TESTED_ELSEWHERE = {
    "_config": "test_client.py, test_secrets.py (settings through the client)",
    "_errors": "test_wire.py, test_reliability.py (each error where it is raised)",
    "_job": "test_export.py (the export package's entry point)",
    "_runs": "test_export.py, test_checkpoint.py, e2e/test_resume_integrity.py",
    "_methods": "test_surface.py (every method reachable, spec_of)",
    "_records": "test_export.py, e2e/test_cli.py (record formats of exports)",
    "_redis_scripts": "test_redis_limiter.py (the Lua scripts run by a local redis-server)",
    "_strict": "test_convert.py, test_properties.py (strict structuring)",
    "_sync": "test_sync_client.py",
    "_sync_helpers": "test_sync_client.py (no helper missing on the sync twins)",
    "_upload": "test_bad_input.py, test_datacloud.py (upload bodies and their refusals)",
    "_version": "test_escape_hatches.py (the client headers)",
    "_workflow_runs": "test_waiter.py, test_sync_client.py, e2e/test_query_runs_e2e.py",
}


def test_every_runtime_module_has_its_test_file() -> None:
    import pathlib

    root = pathlib.Path(dxapi.__file__).parent
    tests = pathlib.Path(__file__).parent
    found = [*root.glob("_*.py"), *root.glob("_export/_*.py")]  # the export package's too
    modules = {p.stem for p in found if not p.stem.startswith("__")}
    missing = {m for m in modules if not (tests / f"test{m}.py").exists()}
    assert missing - set(TESTED_ELSEWHERE) == set(), "add tests/test_<module>.py"
    stale = set(TESTED_ELSEWHERE) - missing
    assert stale == set(), "these now have their own test file (or are gone): drop them here"


def test_peer_clients_take_every_option_of_the_dx_clients() -> None:
    from dxapi.peers import DataGalaxyClient, DatalinxClient, SigmaClient

    dx = set(inspect.signature(dxapi.Client).parameters)
    for peer in (SigmaClient, DataGalaxyClient, DatalinxClient):
        assert dx <= set(inspect.signature(peer).parameters), peer.__name__


def test_import_dxapi_loads_only_what_a_first_call_needs() -> None:
    """anyio (fan-outs, file uploads), the Redis limiter, the registry's specs, msgspec and
    cattrs load when first used, not with ``import dxapi``."""
    code = (
        "import sys, dxapi\n"
        "print(sorted(m for m in ('anyio', 'dxapi._redis_limiter', 'dxapi._generated.specs',"
        " 'msgspec', 'cattrs', 'redis') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
