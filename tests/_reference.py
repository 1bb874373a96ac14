"""Helpers shared by the tests that replay DX's reference material through the SDK.

``tests/fixtures/reference/`` holds facts gathered from DX's docs and from DX's official CLI:
example requests and responses per method (``dx-*-catalog.jsonl``), and the exchanges recorded
from the official CLI's tests (``official-cli-cases.jsonl``).
These helpers turn a reference request into typed SDK arguments, call the generated method,
and read back what went over the wire from aioresponses.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import types
import typing
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import attrs

import dxapi
from codegen.naming import py_name
from dxapi._generated.specs import METHODS
from dxapi._spec import ArgSpec, MethodSpec, TypeRef
from dxapi.types import result_type

BASE = "https://api.getdx.com"
REFERENCE = Path(__file__).resolve().parent / "fixtures" / "reference"


def load_jsonl(name: str) -> list[dict[str, Any]]:
    with (REFERENCE / name).open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def resolve(client: object, name: str) -> Any:
    """``snapshots.dxiScores.breakdown`` → ``client.snapshots.dxi_scores.breakdown``."""
    target = client
    for part in name.split("."):
        target = getattr(target, py_name(part))
    return target


def url_pattern(name: str, base: str = BASE) -> re.Pattern[str]:
    return re.compile(rf"^{re.escape(base)}/{re.escape(name)}(\?.*)?$")


# ----------------------------------------------------------------------- arguments


def _from_text(text: str, t: TypeRef, arg: ArgSpec) -> Any:
    """A query/form value (always text in the reference) as the typed value a caller passes."""
    if isinstance(t, tuple):
        if t[0] == "list":
            return [_from_text(part, t[1], arg) for part in text.split(",")] if text else []
        if t[0] == "union":
            return text
        return json.loads(text)
    if t == "int":
        return int(text)
    if t == "float":
        return float(text)
    if t == "bool":
        assert text in ("true", "false"), text
        return text == "true"
    return text


def typed_args(spec: MethodSpec, request: Mapping[str, Any]) -> dict[str, Any]:
    """The SDK arguments (wire names) that reproduce a reference request."""
    args: dict[str, Any] = {}
    texts = {**(request.get("query") or {}), **(request.get("form") or {})}
    for name, value in texts.items():
        arg = spec.arg(name)
        spread = next((a for a in spec.args if a.prefix and name.startswith(a.prefix)), None)
        if arg is None and spread is not None:  # var-NAME: an entry of a spread map
            entries = args.setdefault(spread.name, {})
            entries[name.removeprefix(spread.prefix or "")] = str(value)
            continue
        assert arg is not None, f"{spec.name}: the registry has no argument {name!r}"
        if spec.upload == name:
            args[name] = b"team,email\nCore,ada@example.com\n"
        else:
            args[name] = _from_text(str(value), arg.type, arg)
    for name, value in (request.get("json") or {}).items():
        assert spec.arg(name) is not None, f"{spec.name}: the registry has no argument {name!r}"
        args[name] = value
    return args


def placeholder(t: TypeRef) -> Any:
    """Some valid value of a type, for required arguments a reference leaves out."""
    if isinstance(t, tuple):
        kind = t[0]
        if kind == "list":
            return [placeholder(t[1])]
        if kind == "map":
            return {}
        if kind == "union":
            return placeholder(t[1])
        return {}
    return {
        "str": "x",
        "int": 1,
        "float": 1.0,
        "bool": True,
        "json": "x",
        "datetime": "2024-01-01T00:00:00Z",
        "date": "2024-01-01",
        "file": b"a,b\n",
    }[t]


def required_args(spec: MethodSpec) -> dict[str, Any]:
    return {a.name: a.enum[0] if a.enum else placeholder(a.type) for a in spec.args if a.required}


def minimal_payload(cls: Any) -> Any:
    """The smallest answer a result class accepts: its required fields, with some value."""
    if not attrs.has(cls):
        return {"ok": True}
    hints = typing.get_type_hints(cls)
    out: dict[str, Any] = {"ok": True}
    for field in attrs.fields(cls):
        if field.default is attrs.NOTHING:
            out[field.alias or field.name] = _value_of(hints[field.name])
    return out


def _value_of(hint: Any) -> Any:
    origin = typing.get_origin(hint)
    if origin is list:
        return []
    if origin is dict:
        return {}
    if origin in (typing.Union, types.UnionType):
        return _value_of(next(a for a in typing.get_args(hint) if a is not type(None)))
    if attrs.has(hint):
        payload = minimal_payload(hint)
        payload.pop("ok")
        return payload
    return {
        str: "x",
        int: 1,
        float: 1.0,
        bool: True,
        dt.datetime: "2024-01-01T00:00:00Z",
        dt.date: "2024-01-01",
    }.get(hint, "x")


def kwargs_of(spec: MethodSpec, args: Mapping[str, Any]) -> dict[str, Any]:
    """Wire-named arguments as the Python keyword arguments of the generated method."""
    return {py_name(k): v for k, v in args.items()}


async def call(client: dxapi.Client, spec: MethodSpec, args: Mapping[str, Any]) -> Any:
    """Call the generated method: await it, or drain a download into bytes."""
    method = resolve(client, spec.name)
    result = method(**kwargs_of(spec, args))
    if spec.download:
        return b"".join([chunk async for chunk in result])
    return await result


# -------------------------------------------------------------------- the wire


@attrs.frozen
class Sent:
    """One request as aioresponses recorded it."""

    verb: str
    path: str
    query: dict[str, str]
    json: Any
    data: Any
    headers: Mapping[str, str]


def sent(mocked: Any) -> list[Sent]:
    out = []
    for (verb, url), calls in mocked.requests.items():
        parts = urlsplit(str(url))
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        for c in calls:
            out.append(
                Sent(
                    verb=verb,
                    path=parts.path,
                    query=query,
                    json=c.kwargs.get("json"),
                    data=c.kwargs.get("data"),
                    headers=c.kwargs.get("headers") or {},
                )
            )
    return out


def multipart_fields(data: Any) -> dict[str, Any]:
    """``{field name: (filename, value)}`` of an aiohttp.FormData the session built."""
    out = {}
    for type_options, _headers, value in data._fields:
        out[type_options["name"]] = (type_options.get("filename"), value)
    return out


# ------------------------------------------------------------------ responses


def with_unknown_keys(payload: Any, t: Any) -> Any:
    """The payload with an extra key in every object that ``t`` reads as a shape (a field DX
    might add tomorrow). A map's keys are all data, so maps get none."""
    members = [a for a in typing.get_args(t) if a is not type(None)]
    origin = typing.get_origin(t)
    if attrs.has(t) and isinstance(payload, dict):
        fields = {f.alias or f.name: f.type for f in attrs.fields(t)}
        out = {k: with_unknown_keys(v, fields.get(k, Any)) for k, v in payload.items()}
        out["zz_added_by_dx_tomorrow"] = {"nested": [1, 2]}
        return out
    if origin in (types.UnionType, typing.Union) and len(members) == 1:
        return with_unknown_keys(payload, members[0])
    if origin is list and isinstance(payload, list):
        return [with_unknown_keys(v, members[0]) for v in payload]
    if origin is dict and isinstance(payload, dict):
        return {k: with_unknown_keys(v, members[1]) for k, v in payload.items()}
    return payload


def lost_keys(payload: Any, typed: Any, where: str = "") -> Iterator[str]:
    """Paths of keys the typed result declares, the payload carries (non-null), but lost."""
    if attrs.has(type(typed)):
        assert isinstance(payload, Mapping), where
        for field in attrs.fields(type(typed)):
            key = field.alias or field.name
            if payload.get(key) is None:
                continue
            value = getattr(typed, field.name)
            if value is None:
                yield f"{where}.{key}"
            else:
                yield from lost_keys(payload[key], value, f"{where}.{key}")
    elif isinstance(typed, list):
        assert isinstance(payload, list) and len(payload) == len(typed), where
        for i, (p, t) in enumerate(zip(payload, typed, strict=True)):
            yield from lost_keys(p, t, f"{where}[{i}]")
    elif isinstance(typed, dict):
        assert isinstance(payload, Mapping), where
        for k, v in typed.items():
            if k in payload:
                yield from lost_keys(payload[k], v, f"{where}.{k}")


def known_method(name: str) -> MethodSpec:
    spec = METHODS.get(name)
    assert spec is not None, f"{name} is not in the registry"
    return spec


def result_class(spec: MethodSpec) -> Any:
    """The generated result class (or loose alias) of a method."""
    return result_type(spec)
