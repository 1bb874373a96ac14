"""Typed results and export records as Arrow tables and Parquet files (``dxapi[arrow]``).

The schema comes from the registry's result shapes (:func:`arrow_schema`): shapes are structs,
timestamps are typed, maps are maps. Values are checked against their column as strictly as
answers are read (``registry/README.md``, "How answers are read"): a value that does not fit
raises ``ValueError`` naming the record and the field, never a silent coercion. pyarrow is
imported on first use; :func:`to_dicts` needs nothing beyond dxapi.
"""

from __future__ import annotations

import datetime as dt
import json
import keyword
import os
import types
import typing
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs
from msgspec.json import encode as _encode

from ._export._records import dumps
from ._spec import MethodSpec, TypeRef
from ._timestamps import Mismatch, parse_date, parse_datetime

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = [
    "EachError",
    "arrow_schema",
    "export_parquet",
    "item_class",
    "to_arrow",
    "to_dicts",
    "write_parquet",
]

#: Field metadata naming a column whose wire name is no Python identifier (fan-out args).
_WIRE = "dxapi.wire"
_INT64 = range(-(2**63), 2**63)

Convert = Callable[[Any, str, dict[str, Any] | None], Any]


def _pyarrow() -> Any:
    try:
        import pyarrow
        import pyarrow.parquet
    except ImportError:
        raise ImportError(
            "Arrow and Parquet output needs pyarrow: pip install 'dxapi[arrow]'"
        ) from None
    return pyarrow


# ------------------------------------------------------------------------ public names


def to_dicts(results: Iterable[Any]) -> list[dict[str, Any]]:
    """Typed results (or shapes) as plain dicts keyed by wire names, as DX sent them.

    Only the declared fields (absent optional ones as ``None``), datetimes as ISO text;
    :func:`dxapi.raw` keeps a result's whole payload. A loose result (a ``dict``) is copied.
    """
    from ._strict import converter

    return [dict(r) if isinstance(r, dict) else converter.unstructure(r) for r in results]


def arrow_schema(cls: type[Any]) -> pa.Schema:
    """The ``pyarrow.Schema`` of a result or shape class, one column per field (wire names).

    ``str``/``int``/``float``/``bool`` are string/int64/float64/bool, ``datetime`` is
    ``timestamp("us", tz="UTC")`` (a timestamp DX sends without a zone is read as UTC),
    ``date`` is date32, ``list[X]`` a list, a shape a struct, ``dict[str, X]`` a map. A
    ``json`` value (``Any``), a union of several types, and a shape that contains itself (or
    declares no field) are string columns holding JSON text. Columns are nullable except
    required fields.
    """
    return _pyarrow().schema(_struct(cls).fields)


def to_arrow(results: Sequence[Any], cls: type[Any] | None = None) -> pa.Table:
    """Typed results (all of class ``cls``, default: the first one's) as a ``pyarrow.Table``
    with :func:`arrow_schema` ``(cls)``. Raises ``ValueError`` for a value that does not fit."""
    if cls is None:
        if not results:
            raise ValueError("to_arrow of no results needs cls= to know the columns")
        cls = type(results[0])
    struct = _struct(cls)
    rows = []
    for i, result in enumerate(results):
        if not isinstance(result, cls):
            raise ValueError(f"results[{i}]: a {type(result).__name__}, not a {cls.__name__}")
        rows.append(struct.row(result, f"results[{i}]", None))
    pa = _pyarrow()
    return pa.Table.from_pylist(rows, schema=pa.schema(struct.fields))


def write_parquet(
    records: Iterable[Mapping[str, Any]],
    path: str | os.PathLike[str],
    cls: type[Any],
    *,
    batch_size: int = 10_000,
    extra: str | None = "_extra",
) -> int:
    """Write records (payload dicts, as an export writes them) to a Parquet file; returns the
    rows written.

    Streams ``batch_size`` records per row group, so memory stays flat. The columns are
    :func:`arrow_schema` ``(cls)`` plus ``extra``: JSON text of the keys ``cls`` does not
    declare (by path, e.g. ``{"owner_teams[0].role": "x"}``), null when there are none, so
    nothing DX sent is lost; ``extra=None`` makes such a key an error. The file appears
    whole (written beside it, then renamed).
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, not {batch_size}")
    pa = _pyarrow()
    struct = _struct(cls)
    if extra is not None and extra in struct.names:
        raise ValueError(f"{cls.__name__} has a field {extra!r}: pass another extra= name")
    fields = struct.fields + ([pa.field(extra, pa.string())] if extra is not None else [])
    schema = pa.schema(fields)
    out = Path(path)
    tmp = out.with_name(out.name + ".tmp")
    rows = 0
    batch: list[dict[str, Any]] = []
    try:
        with pa.parquet.ParquetWriter(tmp, schema) as writer:
            for record in records:
                extras: dict[str, Any] | None = {} if extra is not None else None
                row = struct.row(record, f"record {rows + 1}", extras)
                if extra is not None:
                    row[extra] = dumps(extras) if extras else None
                batch.append(row)
                rows += 1
                if len(batch) == batch_size:
                    writer.write_batch(pa.RecordBatch.from_pylist(batch, schema=schema))
                    batch = []
            if batch or not rows:
                writer.write_batch(pa.RecordBatch.from_pylist(batch, schema=schema))
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    return rows


def export_parquet(
    jsonl_path: str | os.PathLike[str],
    parquet_path: str | os.PathLike[str],
    spec: MethodSpec,
    *,
    each: bool = False,
) -> int:
    """Turn a finished JSONL export into a Parquet file typed by :func:`item_class`; returns
    the rows written. ``spec`` is the listed method, or with ``each=True`` the per-item
    method of a fan-out export (``--each``)."""
    cls = item_class(spec, each=each)
    with open(jsonl_path, encoding="utf-8") as f:
        records = (json.loads(line) for line in f if line.strip())
        return write_parquet(records, parquet_path, cls)


# ----------------------------------------------------------------- records of a method


def item_class(spec: MethodSpec, *, each: bool = False) -> type[Any]:
    """The class of one record of an export: an item of the list method ``spec`` (the
    ``paginate.items`` key of its result: ``catalog.entities.list`` → ``Entity``), or with
    ``each=True`` a fan-out record of the per-item method ``spec``: ``{args, result, error}``
    (an untyped result, ``map<json>``, is JSON text).

    Raises ``ValueError`` for a method whose records have no typed shape.
    """
    cls = _result_class(spec)
    if each:
        return _each_record(spec, cls)
    if cls is None:
        raise ValueError(f"{spec.name} has no typed result (its result is untyped JSON)")
    if spec.page is None:
        raise ValueError(f"{spec.name} is not a list method: its export has no items")
    field = next((a for a in attrs.fields(cls) if a.alias == spec.page.items), None)
    members = _members(field.type) if field is not None else []
    if len(members) != 1 or typing.get_origin(members[0]) is not list:
        raise ValueError(f"{spec.name}: result key {spec.page.items!r} is not a list")
    item = typing.get_args(members[0])[0]
    if not attrs.has(item):
        raise ValueError(f"{spec.name}: its items are untyped JSON; export them as JSONL")
    return typing.cast(type[Any], item)


def _result_class(spec: MethodSpec) -> type[Any] | None:
    """The attrs class ``spec`` returns, None for an untyped result (``map<json>``); the one
    place that finds a result type by its name."""
    from .types import result_type

    cls: Any = result_type(spec) if spec.result else None
    if not isinstance(cls, type) or not attrs.has(cls):
        return None
    attrs.resolve_types(cls)
    return typing.cast(type[Any], cls)


@attrs.frozen(kw_only=True)
class EachError:
    """The ``error`` of a fan-out record: the API's error code, HTTP status and message."""

    error: str | None = None
    status: int | None = None
    message: str | None = None


def _each_record(spec: MethodSpec, result: type[Any] | None) -> type[Any]:
    """A fan-out record's class; an untyped result is a JSON text column."""
    fields: dict[str, Any] = {}
    for i, arg in enumerate(spec.args):
        name = arg.name if arg.name.isidentifier() and not keyword.iskeyword(arg.name) else None
        fields[name or f"arg{i}"] = attrs.field(
            type=_python_type(arg.type) | None,
            default=None,
            metadata={} if name else {_WIRE: arg.name},
        )
    name = spec.result or "Result"
    args = attrs.make_class(f"{name}Args", fields, frozen=True)
    record = {
        "args": _optional(args),
        "result": _optional(result or Any),
        "error": _optional(EachError),
    }
    return attrs.make_class(f"{name}Record", record, frozen=True)


def _optional(t: Any) -> Any:
    return attrs.field(type=t | None, default=None)


_SIMPLE: dict[str, Any] = {
    "str": str, "int": int, "float": float, "bool": bool, "json": Any, "file": Any,
    "datetime": dt.datetime, "date": dt.date,
}  # fmt: skip


def _python_type(t: TypeRef) -> Any:
    """A registry type (as a spec holds it) as the Python type of a result field."""
    if isinstance(t, str):
        return _SIMPLE[t]
    kind, *rest = t
    if kind == "list":
        return list[_python_type(rest[0])]  # type: ignore[misc]
    if kind == "map":
        return dict[str, _python_type(rest[0])]  # type: ignore[misc]
    if kind == "union":
        return typing.Union[tuple(_python_type(m) for m in rest)]  # noqa: UP007
    from . import types as public

    return getattr(public, rest[0])


# ---------------------------------------------------------------- types into columns


def _members(t: Any) -> list[Any]:
    if typing.get_origin(t) in (types.UnionType, typing.Union):
        return [m for m in typing.get_args(t) if m is not type(None)]
    return [t]


def _fail(path: str, declared: Any, value: Any) -> ValueError:
    from ._strict import describe, type_text

    return ValueError(f"{path}: declared {type_text(declared)}, got {describe(value)}")


@attrs.frozen
class _Struct:
    """A shape as columns: its arrow fields and how to turn one value into a row."""

    cls: type[Any]
    names: list[str]
    fields: list[Any]
    readers: list[tuple[str, str, bool, Convert]]  # wire, attribute, required, convert
    known: frozenset[str] = attrs.field(init=False)

    @known.default
    def _known(self) -> frozenset[str]:
        return frozenset(self.names)

    def row(self, value: Any, path: str, extras: dict[str, Any] | None) -> dict[str, Any]:
        if isinstance(value, self.cls):
            return {
                wire: convert(getattr(value, attr), f"{path}.{wire}", extras)
                for wire, attr, _, convert in self.readers
            }
        if not isinstance(value, Mapping):
            raise _fail(path, self.cls, value)
        unknown = value.keys() - self.known
        if unknown and extras is None:
            raise ValueError(f"{path}: {self.cls.__name__} has no field {min(unknown)!r}")
        out: dict[str, Any] = {}
        for wire, _, required, convert in self.readers:
            if wire in value:
                out[wire] = convert(value[wire], f"{path}.{wire}", extras)
            elif required:
                raise ValueError(f"{path}.{wire}: required, and absent")
            else:
                out[wire] = None
        for key in sorted(unknown):
            assert extras is not None
            extras[_strip(f"{path}.{key}")] = value[key]
        return out


def _strip(path: str) -> str:
    """A field path within its record: ``record 3.owner_teams[0].role`` → ``owner_teams…``."""
    return path.split(".", 1)[1]


def _struct(cls: type[Any], stack: tuple[type[Any], ...] = ()) -> _Struct:
    if not attrs.has(cls):
        raise TypeError(f"{cls!r} is not a typed result or shape class (an attrs class)")
    pa = _pyarrow()
    attrs.resolve_types(cls)
    names, fields, readers = [], [], []
    for a in attrs.fields(cls):
        wire = a.metadata.get(_WIRE, a.alias)
        required = a.default is attrs.NOTHING
        try:
            arrow, convert = _column(a.type, (*stack, cls))
        except TypeError as exc:
            raise TypeError(f"{cls.__name__}.{wire}: {exc}") from None
        names.append(wire)
        fields.append(pa.field(wire, arrow, nullable=not required))
        readers.append((wire, a.name, required, convert))
    return _Struct(cls, names, fields, readers)


def _column(t: Any, stack: tuple[type[Any], ...]) -> tuple[Any, Convert]:
    """The arrow type of ``t`` and the function that checks and converts one value."""
    pa = _pyarrow()
    members = _members(t)
    nullable = members != [t] and type(None) in typing.get_args(t)
    if len(members) > 1 or members[0] is Any or _opaque(members[0], stack):
        return pa.string(), _json_shapes if _has_shapes(t) else _json
    inner = members[0]
    arrow, convert = _nonnull(inner, stack)

    def checked(value: Any, path: str, extras: dict[str, Any] | None) -> Any:
        if value is None:
            if nullable:
                return None
            raise _fail(path, t, value)
        return convert(value, path, extras)

    return arrow, checked


def _opaque(t: Any, stack: tuple[type[Any], ...]) -> bool:
    """A shape that contains itself, or declares no field (Parquet has no empty struct)."""
    return attrs.has(t) and (t in stack or not attrs.fields(t))


def _nonnull(t: Any, stack: tuple[type[Any], ...]) -> tuple[Any, Convert]:
    pa = _pyarrow()
    origin = typing.get_origin(t)
    if origin is typing.Literal and all(isinstance(a, str) for a in typing.get_args(t)):
        t = str  # result enums are open
    if t in _SCALARS:
        arrow, check = _SCALARS[t]

        def scalar(value: Any, path: str, _: dict[str, Any] | None) -> Any:
            try:
                return check(value)
            except (Mismatch, ValueError, OverflowError):
                raise _fail(path, t, value) from None

        return arrow(pa), scalar
    if origin is list:
        item_arrow, item = _column(typing.get_args(t)[0], stack)

        def each(value: Any, path: str, extras: dict[str, Any] | None) -> Any:
            if not isinstance(value, list | tuple):
                raise _fail(path, t, value)
            return [item(v, f"{path}[{i}]", extras) for i, v in enumerate(value)]

        return pa.list_(item_arrow), each
    if origin is dict:
        key_type, value_type = typing.get_args(t)
        if key_type is not str:
            raise TypeError(f"map keys must be str, not {key_type!r}")
        value_arrow, entry = _column(value_type, stack)

        def mapping(value: Any, path: str, extras: dict[str, Any] | None) -> Any:
            if not isinstance(value, Mapping) or not all(isinstance(k, str) for k in value):
                raise _fail(path, t, value)
            return [(k, entry(v, f"{path}[{k!r}]", extras)) for k, v in value.items()]

        return pa.map_(pa.string(), value_arrow), mapping
    if attrs.has(t):
        struct = _struct(t, stack)
        return pa.struct(struct.fields), struct.row
    raise TypeError(f"no Arrow column for the type {t!r}")


def _has_shapes(t: Any) -> bool:
    return attrs.has(t) or any(_has_shapes(a) for a in typing.get_args(t))


def _json(value: Any, path: str, _: dict[str, Any] | None) -> str | None:
    """A ``json`` value (or a union of JSON types) as JSON text; null stays null."""
    if value is None:
        return None
    try:  # compact, keys sorted (as export records are written)
        return _encode(value, order="sorted").decode()
    except (TypeError, ValueError):
        raise ValueError(f"{path}: not JSON: {type(value).__name__}") from None


def _json_shapes(value: Any, path: str, extras: dict[str, Any] | None) -> str | None:
    """A value that may hold shapes (a recursive or empty one, a union with one) as JSON
    text, shapes as the converter writes them (wire names, ISO timestamps)."""
    if value is not None and not isinstance(value, Mapping):
        from ._strict import converter

        value = converter.unstructure(value)
    return _json(value, path, extras)


def _str(value: Any) -> str:
    if isinstance(value, str):
        return value
    raise Mismatch


def _int(value: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and value in _INT64:
        return value
    raise Mismatch


def _float(value: Any) -> float:
    if isinstance(value, float):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return float(value)  # JSON has one number type: 3 is a valid float
    raise Mismatch


def _bool(value: Any) -> bool:
    if value is True or value is False:
        return value
    raise Mismatch


def _datetime(value: Any) -> dt.datetime:
    if isinstance(value, bool):
        raise Mismatch
    moment = parse_datetime(value)
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)


def _date(value: Any) -> dt.date:
    if isinstance(value, dt.datetime):
        raise Mismatch
    return parse_date(value)


_SCALARS: dict[Any, tuple[Callable[[Any], Any], Callable[[Any], Any]]] = {
    str: (lambda pa: pa.string(), _str),
    int: (lambda pa: pa.int64(), _int),
    float: (lambda pa: pa.float64(), _float),
    bool: (lambda pa: pa.bool_(), _bool),
    dt.datetime: (lambda pa: pa.timestamp("us", tz="UTC"), _datetime),
    dt.date: (lambda pa: pa.date32(), _date),
}
