"""``dxapi.types``: every result type by its generated name, found from a spec, lazily."""

from __future__ import annotations

import subprocess
import sys

import attrs
import pytest

import dxapi
import dxapi.types
from dxapi._generated.results import RESULTS
from dxapi._generated.specs import METHODS
from dxapi.types import CatalogEntitiesInfoResult, Entity, result_type


def test_every_method_result_is_public_under_its_generated_name() -> None:
    for name, spec in METHODS.items():
        assert spec.result in dxapi.types.__all__, name
        cls = result_type(spec)
        assert result_type(name) is cls
        assert getattr(dxapi.types, spec.result) is cls
        assert attrs.has(cls) or cls == dict[str, object] or str(cls).startswith("dict["), name
    assert {"Entity", "QueryRun", "result_type"} <= set(dxapi.types.__all__)
    assert set(RESULTS) <= set(dir(dxapi.types))


def test_the_documented_names_import() -> None:
    assert result_type("catalog.entities.info") is CatalogEntitiesInfoResult
    hints = attrs.fields_dict(CatalogEntitiesInfoResult)
    assert hints["entity"].type is Entity


def test_an_alias_returns_the_class_of_its_target() -> None:
    spec = METHODS["entities.info"]
    assert spec.alias_of == "catalog.entities.info"
    assert result_type(spec) is CatalogEntitiesInfoResult
    assert dxapi.types.EntitiesInfoResult is CatalogEntitiesInfoResult


def test_unknown_names_are_refused() -> None:
    with pytest.raises(AttributeError, match="NoSuchResult"):
        _ = dxapi.types.NoSuchResult
    with pytest.raises(KeyError):
        result_type("no.such.method")


def test_importing_types_imports_no_method_module() -> None:
    code = (
        "import sys, dxapi.types\n"
        "loaded = [m for m in sys.modules if m.startswith(('dxapi._generated.web.', "
        "'dxapi._generated.datacloud.'))]\n"
        "dxapi.types.TeamsInfoResult\n"
        "after = [m for m in sys.modules if m.startswith('dxapi._generated.web.')]\n"
        "print(len(loaded), sorted(after))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split(" ", 1) == ["0", "['dxapi._generated.web.teams']\n"]


def test_no_runtime_module_scans_for_result_classes() -> None:
    import pathlib

    root = pathlib.Path(dxapi.__file__).parent
    for path in root.rglob("*.py"):
        if "_generated" in path.parts:
            continue
        text = path.read_text("utf-8")
        for scan in ("pkgutil", "iter_modules", "getmembers"):
            assert scan not in text, f"{path.relative_to(root)} uses {scan}"
