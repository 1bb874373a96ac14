"""Arrow and Parquet output: schemas from the registry, exact values, streaming, the README recipe."""

from __future__ import annotations

import datetime as dt
import importlib
import json
import pkgutil
import re
import sys
import typing
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, Literal

import anyio
import attrs
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import dxapi
from dxapi._arrow import EachError, export_parquet, item_class, write_parquet
from dxapi._export import ExportJob, export
from dxapi._generated.specs import METHODS
from dxapi.testing import FakeDX
from dxapi.types import Entity, Ref

UTC_US = pa.timestamp("us", tz="UTC")
README = Path(__file__).parent.parent / "README.md"


def dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


@pytest.fixture
async def fake() -> AsyncIterator[FakeDX]:
    async with FakeDX(entities=60, rate_limit=None) as server:
        yield server


# ------------------------------------------------------------------------- schemas


def generated(name: str) -> Any:
    """The generated result type called ``name``, found in the family modules."""
    for api in ("web", "datacloud"):
        package = importlib.import_module(f"dxapi._generated.{api}")
        for info in pkgutil.iter_modules(package.__path__):
            module = importlib.import_module(f"{package.__name__}.{info.name}")
            if hasattr(module, name):
                return getattr(module, name)
    raise LookupError(name)


def test_every_typed_result_of_the_registry_has_a_schema() -> None:
    typed = untyped = 0
    for spec in METHODS.values():
        assert spec.result is not None
        cls = generated(spec.result)
        if not attrs.has(cls):  # result: map<json>, a plain dict
            assert cls == dict[str, Any], spec.name
            # A fan-out of it keeps the result whole, as JSON text.
            record = dxapi.arrow_schema(item_class(spec, each=True))
            assert record.field("result").type == pa.string()
            if spec.page is not None:
                with pytest.raises(ValueError, match="no typed result"):
                    item_class(spec)
            untyped += 1
            continue
        schema = dxapi.arrow_schema(cls)
        assert schema.names == [a.alias for a in attrs.fields(cls)], spec.name
        # A fan-out record of every method, and every list method's items, have one too.
        record = dxapi.arrow_schema(item_class(spec, each=True))
        assert record.names == ["args", "result", "error"]
        assert record.field("args").type.num_fields == len(spec.args), spec.name
        if spec.page is not None:
            hints = typing.get_type_hints(cls)
            items = typing.get_args(hints[spec.page.items])[0]  # list[X] (| None)
            element = typing.get_args(items)[0] if typing.get_args(items) else items
            if attrs.has(element):
                assert item_class(spec) is element
                assert dxapi.arrow_schema(element).names, spec.name
            else:
                with pytest.raises(ValueError, match="untyped JSON"):
                    item_class(spec)
        typed += 1
    assert typed > 100
    assert untyped > 0


def test_entity_columns() -> None:
    schema = dxapi.arrow_schema(Entity)
    ref = pa.struct([("email", pa.string()), ("id", pa.string()), ("name", pa.string())])
    assert schema.field("identifier").type == pa.string()
    assert not schema.field("identifier").nullable  # DX always sends it
    assert schema.field("created_at").type == UTC_US
    assert schema.field("created_at").nullable
    assert schema.field("owner_teams").type == pa.list_(ref)  # Ref.id is json: JSON text
    assert schema.field("properties").type == pa.map_(pa.string(), pa.string())
    alias = pa.struct([("identifier", pa.string()), ("name", pa.string()), ("url", pa.string())])
    assert schema.field("aliases").type == pa.map_(pa.string(), pa.list_(alias))


@attrs.frozen(kw_only=True)
class Node:
    name: str
    children: list[Node] | None = None


@attrs.frozen(kw_only=True)
class Empty:
    pass


@attrs.frozen(kw_only=True)
class Sample:
    count: int
    wire_name: float | None = attrs.field(default=None, alias="wireName")
    on: bool | None = None
    day: dt.date | None = None
    either: int | str | None = None
    kind: Literal["a", "b"] | None = None
    tree: Node | None = None
    empty: Empty | None = None
    scores: dict[str, list[float]] | None = None
    pick: Ref | str | None = None


def test_every_type_of_the_language() -> None:
    schema = dxapi.arrow_schema(Sample)
    assert schema.names == [
        "count", "wireName", "on", "day", "either", "kind", "tree", "empty", "scores", "pick",
    ]  # fmt: skip
    types = {f.name: f.type for f in schema}
    assert types["count"] == pa.int64()
    assert types["wireName"] == pa.float64()
    assert types["on"] == pa.bool_()
    assert types["day"] == pa.date32()
    assert types["either"] == pa.string()  # a union: JSON text
    assert types["kind"] == pa.string()
    # A shape that contains itself stops at the first repeat, as JSON text.
    assert types["tree"] == pa.struct(
        [pa.field("name", pa.string(), nullable=False), ("children", pa.list_(pa.string()))]
    )
    assert types["empty"] == pa.string()
    assert types["scores"] == pa.map_(pa.string(), pa.list_(pa.float64()))


def test_a_class_that_is_not_a_shape_is_refused() -> None:
    with pytest.raises(TypeError, match="not a typed result or shape class"):
        dxapi.arrow_schema(dict)

    @attrs.frozen
    class Odd:
        when: dt.time

    with pytest.raises(TypeError, match=r"Odd\.when: no Arrow column"):
        dxapi.arrow_schema(Odd)


# ------------------------------------------------------------------- exact values


def test_values_are_converted_exactly() -> None:
    sample = Sample(
        count=2**62,
        wireName=3,  # type: ignore[arg-type]  # JSON's one number type: 3 is a float
        on=False,
        day=dt.date(2026, 2, 10),
        either="7",
        kind="b",
        tree=Node(name="root", children=[Node(name="leaf", children=[])]),
        empty=Empty(),
        scores={"x": [1.5, 2.0]},
        pick=Ref(id=1, name="é"),
    )
    row = dxapi.to_arrow([sample]).to_pylist()[0]
    assert row == {
        "count": 2**62,
        "wireName": 3.0,
        "on": False,
        "day": dt.date(2026, 2, 10),
        "either": '"7"',
        "kind": "b",
        "tree": {"name": "root", "children": ['{"children":[],"name":"leaf"}']},
        "empty": "{}",
        "scores": [("x", [1.5, 2.0])],
        "pick": '{"email":null,"id":1,"name":"é"}',  # a shape in a union: JSON, wire names
    }
    assert dxapi.to_arrow([Sample(count=1, either=7)]).column("either").to_pylist() == ["7"]


@pytest.mark.parametrize(
    ("value", "path", "got"),
    [
        (Sample(count=True), r"results\[0\]\.count", "true"),  # type: ignore[arg-type]
        (Sample(count=2**63), r"results\[0\]\.count", "the number"),
        (Sample(count=1, wireName="1.5"), r"results\[0\]\.wireName", "the string"),  # type: ignore[arg-type]
        (Sample(count=1, tree=Node(name=None)), r"results\[0\]\.tree\.name", "null"),  # type: ignore[arg-type]
        (Sample(count=1, scores={"x": [1, "2"]}), r"scores\['x'\]\[1\]", "the string '2'"),  # type: ignore[list-item]
        (Sample(count=1, day=dt.datetime(2026, 1, 1)), r"\.day", "datetime"),  # type: ignore[arg-type]
    ],
)
def test_a_value_that_does_not_fit_names_its_field(value: Sample, path: str, got: str) -> None:
    with pytest.raises(ValueError, match=rf"{path}: declared .*got .*{re.escape(got)}"):
        dxapi.to_arrow([value])


def test_to_arrow_refuses_mixed_or_unknown_classes() -> None:
    with pytest.raises(ValueError, match=r"results\[1\]: a Ref, not a Entity"):
        dxapi.to_arrow([Entity(identifier="a"), Ref(id="x")])
    with pytest.raises(ValueError, match="needs cls="):
        dxapi.to_arrow([])
    assert dxapi.to_arrow([], Entity).schema == dxapi.arrow_schema(Entity)


async def test_parquet_round_trip_of_typed_results(fake: FakeDX, tmp_path: Path) -> None:
    async with fake.client() as dx:
        entities = [e async for e in dx.catalog.entities.list(limit=25)]
    assert len(entities) == 60
    path = tmp_path / "entities.parquet"
    pq.write_table(dxapi.to_arrow(entities), path)
    table = pq.read_table(path)
    assert table.schema == dxapi.arrow_schema(Entity)
    assert table.schema.field("created_at").type == UTC_US
    assert pa.types.is_struct(table.schema.field("owner_teams").type.value_type)

    def ref(r: Ref) -> dict[str, Any]:
        return {"email": r.email, "id": None if r.id is None else dumps(r.id), "name": r.name}

    expected = [
        {
            "identifier": e.identifier,
            "aliases": [(k, [attrs.asdict(a) for a in v]) for k, v in (e.aliases or {}).items()],
            "created_at": e.created_at,
            "description": e.description,
            "domain": e.domain,
            "name": e.name,
            "owner_teams": [ref(r) for r in e.owner_teams or []],
            "owner_users": [ref(r) for r in e.owner_users or []],
            "properties": [(k, dumps(v)) for k, v in (e.properties or {}).items()],
            "type": e.type,
            "updated_at": e.updated_at,
        }
        for e in entities
    ]
    assert table.to_pylist() == expected
    assert all(isinstance(e.created_at, dt.datetime) for e in entities)
    # to_dicts gives the values as DX sent them (absent optional fields as None).
    async with fake.client() as dx:
        payloads = [e async for e in dx.paginate("catalog.entities.list")]
    for plain, sent in zip(dxapi.to_dicts(entities), payloads, strict=True):
        assert plain["identifier"] == sent["identifier"]
        assert plain["owner_teams"] == [{"email": None, **r} for r in sent["owner_teams"]]
        assert plain["properties"] == sent["properties"]
        assert dt.datetime.fromisoformat(plain["created_at"]) == dt.datetime.fromisoformat(
            sent["created_at"]
        )


def test_without_pyarrow_the_error_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pyarrow", None)  # as if not installed
    with pytest.raises(ImportError, match=re.escape("pip install 'dxapi[arrow]'")):
        dxapi.arrow_schema(Entity)
    assert dxapi.to_dicts([Ref(id="x")]) == [{"email": None, "id": "x", "name": None}]


def test_to_dicts_is_wire_named() -> None:
    out = dxapi.to_dicts([Sample(count=1, wireName=2.5, day=dt.date(2026, 1, 2)), {"a": 1}])
    assert out[0]["wireName"] == 2.5
    assert out[0]["day"] == "2026-01-02"
    assert out[1] == {"a": 1}


# ----------------------------------------------------------------- write_parquet


def test_write_parquet_streams_row_groups(tmp_path: Path) -> None:
    def records() -> Any:
        for i in range(25_000):
            yield {
                "identifier": f"e{i}",
                "created_at": i if i % 2 else "2026-02-10 3:04:05",  # Unix seconds, or text
                "owner_teams": [{"id": i, "name": f"t{i}"}],
            }

    path = tmp_path / "many.parquet"
    assert write_parquet(records(), path, Entity, batch_size=10_000) == 25_000
    meta = pq.ParquetFile(path).metadata
    assert meta.num_rows == 25_000
    assert [meta.row_group(g).num_rows for g in range(meta.num_row_groups)] == [
        10_000, 10_000, 5_000,
    ]  # fmt: skip
    table = pq.read_table(path, columns=["identifier", "created_at", "owner_teams", "_extra"])
    rows = table.slice(0, 2).to_pylist()
    assert rows[0]["created_at"] == dt.datetime(2026, 2, 10, 3, 4, 5, tzinfo=dt.UTC)
    assert rows[1]["created_at"] == dt.datetime(1970, 1, 1, 0, 0, 1, tzinfo=dt.UTC)
    assert rows[1]["owner_teams"] == [{"email": None, "id": "1", "name": "t1"}]
    assert table.column("_extra").null_count == 25_000
    assert not list(tmp_path.glob("*.tmp"))


def test_keys_the_schema_lacks_are_kept_in_extra(tmp_path: Path) -> None:
    records = [
        {"identifier": "a", "tier": 1, "owner_teams": [{"name": "x", "role": "lead"}]},
        {"identifier": "b"},
    ]
    path = tmp_path / "e.parquet"
    write_parquet(records, path, Entity)
    extra = pq.read_table(path).column("_extra").to_pylist()
    assert [None if e is None else json.loads(e) for e in extra] == [
        {"owner_teams[0].role": "lead", "tier": 1},
        None,
    ]
    with pytest.raises(ValueError, match=r"record 1: Entity has no field 'tier'"):
        write_parquet(records, path, Entity, extra=None)


@pytest.mark.parametrize(
    ("record", "message"),
    [
        ({"name": "no identifier"}, r"record 2\.identifier: required, and absent"),
        ({"identifier": 5}, r"record 2\.identifier: declared str, got the number 5"),
        ({"identifier": "x", "created_at": "soon"}, r"record 2\.created_at: declared datetime"),
        ({"identifier": "x", "created_at": True}, r"record 2\.created_at: .*got true"),
        ({"identifier": "x", "owner_teams": "t"}, r"record 2\.owner_teams: declared list"),
        ({"identifier": "x", "properties": []}, r"record 2\.properties: declared dict"),
    ],
)
def test_write_parquet_refuses_a_record_that_does_not_fit(
    tmp_path: Path, record: dict[str, Any], message: str
) -> None:
    path = tmp_path / "bad.parquet"
    with pytest.raises(ValueError, match=message):
        write_parquet([{"identifier": "ok"}, record], path, Entity)
    assert not path.exists()
    assert not list(tmp_path.iterdir())  # no partial file left behind


def test_write_parquet_refuses_bad_settings(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="batch_size must be at least 1"):
        write_parquet([], tmp_path / "x.parquet", Entity, batch_size=0)
    with pytest.raises(ValueError, match="EachError has a field 'error': pass another extra="):
        write_parquet([], tmp_path / "x.parquet", EachError, extra="error")
    assert not list(tmp_path.iterdir())


def test_write_parquet_of_no_records_has_the_columns(tmp_path: Path) -> None:
    path = tmp_path / "none.parquet"
    assert write_parquet([], path, EachError) == 0
    assert pq.read_table(path).schema.names == ["error", "status", "message", "_extra"]


# ---------------------------------------------------------------- export_parquet


def test_item_class_follows_the_page_spec() -> None:
    assert item_class(METHODS["catalog.entities.list"]) is Entity
    assert item_class(METHODS["users.list"]).__name__ == "User"
    with pytest.raises(ValueError, match="not a list method"):
        item_class(METHODS["catalog.entities.info"])
    with pytest.raises(ValueError, match="untyped JSON"):
        item_class(METHODS["initiatives.progressReport"])
    # Arguments whose wire name is no identifier keep it as their column name.
    args = dxapi.arrow_schema(item_class(METHODS["customMetrics.list"], each=True))
    assert "from" in args.field("args").type.names


def test_a_fan_out_of_an_untyped_result_keeps_it_as_json(tmp_path: Path) -> None:
    spec = METHODS["snapshots.driverScores"]  # result: map<json>
    record = {"args": {"snapshot_id": "s1"}, "result": {"drivers": [{"score": 7.5}]}}
    write_parquet([record], tmp_path / "d.parquet", item_class(spec, each=True))
    row = pq.read_table(tmp_path / "d.parquet").to_pylist()[0]
    assert row["args"]["snapshot_id"] == "s1"
    assert json.loads(row["result"]) == record["result"]
    assert row["error"] is None


async def test_export_parquet_from_a_jsonl_export(fake: FakeDX, tmp_path: Path) -> None:
    jsonl = tmp_path / "entities.jsonl"
    async with fake.client() as dx:
        await export(dx, ExportJob("catalog.entities.list", jsonl, {"limit": 7}))
    spec = METHODS["catalog.entities.list"]
    assert export_parquet(jsonl, tmp_path / "entities.parquet", spec) == 60
    table = pq.read_table(tmp_path / "entities.parquet")
    lines = [json.loads(line) for line in jsonl.read_text().splitlines()]
    assert table.column("identifier").to_pylist() == [r["identifier"] for r in lines]
    assert table.column("created_at").to_pylist() == [
        dt.datetime.fromisoformat(r["created_at"]) for r in lines
    ]
    assert table.column("properties").to_pylist()[0] == [
        (k, dumps(v)) for k, v in lines[0]["properties"].items()
    ]
    assert table.column("_extra").null_count == 60


async def test_export_parquet_of_a_fan_out(fake: FakeDX, tmp_path: Path) -> None:
    fake.inject("catalog.entities.info", status=404, times=2)
    jsonl = tmp_path / "info.jsonl"
    job = ExportJob("catalog.entities.list", jsonl, {"limit": 20}, each="catalog.entities.info")
    async with fake.client() as dx:
        await export(dx, job)
    spec = METHODS["catalog.entities.info"]
    assert export_parquet(jsonl, tmp_path / "info.parquet", spec, each=True) == 60
    rows = pq.read_table(tmp_path / "info.parquet").to_pylist()
    failed = [r for r in rows if r["error"] is not None]
    sent = [json.loads(line) for line in jsonl.read_text().splitlines()]
    assert [r["error"] for r in failed] == [r["error"] for r in sent if "error" in r]
    assert [r["error"]["status"] for r in failed] == [404, 404]
    assert all(r["result"] is None for r in failed)
    done = [r for r in rows if r["error"] is None]
    assert [r["args"]["identifier"] for r in done] == [
        r["result"]["entity"]["identifier"] for r in done
    ]
    assert isinstance(done[0]["result"]["entity"]["created_at"], dt.datetime)


# ------------------------------------------------------------------ README recipe


def recipe() -> list[str]:
    """The Python blocks of the README's "Analytics" section."""
    text = README.read_text(encoding="utf-8")
    section = text.split("\n## Analytics\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```python\n(.*?)```", section, flags=re.S)


async def test_readme_recipe_runs_with_duckdb_and_polars(
    fake: FakeDX, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocks = recipe()
    assert len(blocks) == 2
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DX_API_TOKEN", fake.token)
    monkeypatch.setenv("DX_BASE_URL", fake.url)
    scope: dict[str, Any] = {}
    for n, block in enumerate(blocks, 1):  # in a thread: the recipe runs its own event loop
        code = compile(block, f"README.md, Analytics block {n}", "exec")
        await anyio.to_thread.run_sync(exec, code, scope)
    async with fake.client() as dx:
        entities = [e async for e in dx.catalog.entities.list()]
    # DuckDB: the newest five, their timestamps typed, the first owning team's name.
    newest = sorted(entities, key=lambda e: e.created_at or dt.datetime.min, reverse=True)[:5]
    assert scope["newest"] == [
        (e.identifier, e.created_at, e.owner_teams[0].name if e.owner_teams else None)
        for e in newest
    ]
    # polars: entities per owning team.
    counts: dict[str | None, int] = {}
    for e in entities:
        team = e.owner_teams[0].name if e.owner_teams else None
        counts[team] = counts.get(team, 0) + 1
    assert dict(scope["per_team"].iter_rows()) == counts
