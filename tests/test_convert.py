"""dxapi._convert: strict structuring, ResponseValidationError, raw()/response_of(), msgspec = cattrs.

1. The coercions answers used to suffer (``None`` → ``'None'``, ``12.9`` → ``12``, ``"false"`` →
   ``True``, a string iterated into a list) are refusals naming the field.
2. Property, for every result shape of the registry: a valid payload with one field replaced
   by a value of another JSON type either reads as exactly what the rules make of the sent
   value (where they are lenient) or raises ResponseValidationError carrying the payload and
   naming that field. An independent oracle (``expected``) states the rules.
3. Property: msgspec and the strict cattrs converter give the same results and the same
   refusals (``decode`` = msgspec when it accepts; the strict path alone must agree).
4. Every typed result keeps the response it was built from.
"""

from __future__ import annotations

import datetime as dt
import os
import string
import subprocess
import sys
import types
import typing
from typing import Any, Literal

import attrs
import msgspec
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import dxapi
from dxapi._convert import decode, structure_result
from dxapi._generated import specs
from dxapi._generated.shapes import Entity
from dxapi._generated.specs import METHODS
from dxapi._generated.web.catalog import CatalogEntitiesInfoResult, CatalogEntitiesListResult
from dxapi._result import Result
from dxapi._strict import converter as strict
from dxapi._timestamps import parse_datetime
from tests._reference import result_class, url_pattern

SETTINGS = settings(
    max_examples=int(os.environ.get("DXAPI_EXAMPLES", "150")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
GET = specs.CATALOG_ENTITIES_INFO
POST = specs.CATALOG_ENTITIES_CREATE
RESULTS = sorted(
    {
        c
        for s in METHODS.values()
        if s.result and not s.download and attrs.has(c := result_class(s))
    },
    key=lambda c: c.__name__,
)


def refusal(payload: Any, cls: type = CatalogEntitiesInfoResult) -> dxapi.ResponseValidationError:
    with pytest.raises(dxapi.ResponseValidationError) as caught:
        structure_result(GET, cls, payload, status=200, headers={})
    assert caught.value.payload is payload
    return caught.value


def entity(**fields: Any) -> dict[str, Any]:
    return {"ok": True, "entity": {"identifier": "svc", **fields}}


# --------------------------------------------------------------- 1. no coercion


@pytest.mark.parametrize(
    ("field", "value", "declared", "got"),
    [
        ("name", ["a", "b"], "str | None", "an array of 2 items"),  # was its repr
        ("name", 12, "str | None", "the number 12"),
        ("owner_teams", "abc", "list[Ref] | None", "the string 'abc'"),  # was ['a', 'b', 'c']
        ("properties", [1], "dict[str, Any] | None", "an array of 1 item"),
        ("created_at", True, "datetime | None", "true"),
        ("created_at", "last tuesday", "datetime | None", "the string 'last tuesday'"),
    ],
)
def test_a_value_of_another_type_is_refused_with_its_path(
    field: str, value: Any, declared: str, got: str
) -> None:
    err = refusal(entity(**{field: value}))
    assert (err.path, err.declared, err.got) == (f"entity.{field}", declared, got)
    assert err.method == "catalog.entities.info" and not err.accepted
    assert f"at entity.{field}: declared {declared}, got {got}" in str(err)


def test_null_in_a_required_str_is_refused_not_the_string_none() -> None:
    err = refusal({"ok": True, "entity": {"identifier": None}})
    assert (err.path, err.declared, err.got) == ("entity.identifier", "str", "null")


@attrs.frozen
class Counts(Result):
    n: int | None = None
    ratio: float | None = None
    on: bool | None = None


@attrs.frozen
class Run(Result):
    status: Literal["queued", "done"]


@attrs.frozen(kw_only=True)
class Renamed(Result):
    next_cursor: str | None = attrs.field(default=None, alias="nextCursor")


def test_numbers_and_bools_keep_their_type() -> None:
    for payload, path in [({"n": 12.9}, "n"), ({"n": True}, "n"), ({"on": "false"}, "on")]:
        assert refusal(payload, Counts).path == path
    assert refusal({"on": 0}, Counts).got == "the number 0"
    read = structure_result(GET, Counts, {"n": 3, "ratio": 2, "on": False}, status=200, headers={})
    assert (read.n, read.ratio, read.on) == (3, 2.0, False)
    assert type(read.ratio) is float


def test_a_required_field_that_is_absent_is_an_error_not_a_default() -> None:
    payload = {"ok": True, "entities": [{"identifier": "a"}, {"name": "no id"}]}
    err = refusal(payload, CatalogEntitiesListResult)
    assert (err.path, err.declared) == ("entities[1].identifier", "str (required)")
    assert err.got == "nothing (the key is absent)"


def test_deep_paths_name_list_indexes_and_map_keys() -> None:
    teams = [{"id": "t1", "name": "a"}, {"id": 7, "name": 7}]  # id is json, name a str
    assert refusal(entity(owner_teams=teams)).path == "entity.owner_teams[1].name"
    aliases = {"github_repo": [{"identifier": "1"}, "x"]}
    assert refusal(entity(aliases=aliases)).path == "entity.aliases['github_repo'][1]"


def test_lenient_where_declared() -> None:
    payload = entity(
        name=None,  # optional fields accept null
        properties={"anything": [{"goes": None}]},  # json is taken as sent
        created_at=1_700_000_000,  # Unix seconds …
        updated_at=1_700_000_000_500,  # … or milliseconds
        zz_unknown={"kept": True},
    )
    read = structure_result(GET, CatalogEntitiesInfoResult, payload, status=200, headers={})
    assert read.entity.name is None
    assert read.entity.properties == {"anything": [{"goes": None}]}
    assert read.entity.created_at == dt.datetime(2023, 11, 14, 22, 13, 20, tzinfo=dt.UTC)
    assert read.entity.updated_at == dt.datetime(2023, 11, 14, 22, 13, 20, 500000, tzinfo=dt.UTC)
    assert dxapi.raw(read)["entity"]["zz_unknown"] == {"kept": True}


def test_result_enums_are_open() -> None:
    for value in ("queued", "paused_by_a_dx_feature_of_2027"):
        assert (
            structure_result(GET, Run, {"status": value}, status=200, headers={}).status == value
        )
    assert refusal({"status": 3}, Run).path == "status"


def test_datetimes_in_the_forms_dx_sends() -> None:
    utc = dt.UTC
    assert parse_datetime("2025-01-02 20:48:45.77969") == dt.datetime(
        2025, 1, 2, 20, 48, 45, 779690
    )
    assert parse_datetime("2025-01-02T20:48:45Z") == dt.datetime(
        2025, 1, 2, 20, 48, 45, tzinfo=utc
    )
    assert parse_datetime("2026-02-10 0:00:00") == dt.datetime(2026, 2, 10)
    with pytest.raises(TypeError):
        parse_datetime(False)


def test_an_accepted_write_says_so() -> None:
    payload = {"ok": True, "entity": {"identifier": 5}}
    with pytest.raises(dxapi.ResponseValidationError) as caught:
        structure_result(POST, CatalogEntitiesInfoResult, payload, status=201, headers={"a": "b"})
    err = caught.value
    assert err.accepted and err.status == 201 and err.headers == {"a": "b"}
    assert "do not send it again" in str(err)
    assert isinstance(err, dxapi.DXError) and not isinstance(err, dxapi.TransportError)


# ----------------------------------------------- 2. every shape: one field replaced

Kind = str  # a JSON type: null bool int float str array object
KINDS = ("null", "bool", "int", "float", "str", "array", "object")
text = st.text(st.characters(exclude_categories=["Cs"]), max_size=8)
keys = st.text(string.ascii_letters + "_", min_size=1, max_size=6)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63) | st.floats(allow_nan=False) | text,
    lambda inner: st.lists(inner, max_size=2) | st.dictionaries(keys, inner, max_size=2),
    max_leaves=4,
)
moments = st.datetimes(
    dt.datetime(1971, 1, 1),
    dt.datetime(2100, 1, 1),
    timezones=st.sampled_from([None, dt.UTC, dt.timezone(dt.timedelta(hours=-5, minutes=-30))]),
)


@st.composite
def timestamp_text(draw: st.DrawFn) -> str:
    """A timestamp as DX (or a proxy) might write it: separators, precision, zones vary."""
    moment = draw(moments)
    spec = draw(st.sampled_from(["seconds", "milliseconds", "microseconds"]))
    out = moment.replace(tzinfo=None).isoformat(sep=draw(st.sampled_from("T ")), timespec=spec)
    out += draw(st.sampled_from(["", "", "7", "49", "5000001"])) if spec == "microseconds" else ""
    if moment.tzinfo is not None:
        zone = moment.strftime("%z")
        out += draw(st.sampled_from(["Z", "z"])) if zone == "+0000" else zone[:3] + ":" + zone[3:]
    return out


def _members(t: Any) -> tuple[list[Any], bool]:
    if typing.get_origin(t) in (types.UnionType, typing.Union):
        args = typing.get_args(t)
        return [a for a in args if a is not type(None)], type(None) in args
    return [t], False


def valid(t: Any, depth: int = 0) -> st.SearchStrategy[Any]:
    """JSON values the rules accept for ``t``."""
    members, nullable = _members(t)
    if nullable or len(members) > 1:
        alternatives = st.one_of(*(valid(m, depth) for m in members))
        return st.none() | alternatives if nullable else alternatives
    origin, args = typing.get_origin(t), typing.get_args(t)
    if t is Any:
        return json_values
    if t in SIMPLE:
        return SIMPLE[t]
    if origin is list:
        return st.lists(valid(args[0], depth + 1), max_size=0 if depth > 3 else 2)
    if origin is dict:
        return st.dictionaries(keys, valid(args[1], depth + 1), max_size=0 if depth > 3 else 2)
    if attrs.has(t):
        required = {f.alias: valid(f.type, depth + 1) for f in attrs.fields(t) if _required(f)}
        optional = {f.alias: valid(f.type, depth + 1) for f in attrs.fields(t) if not _required(f)}
        return st.fixed_dictionaries(required, optional=optional if depth < 3 else {})
    raise AssertionError(f"no strategy for {t!r}")


SIMPLE: dict[Any, st.SearchStrategy[Any]] = {
    str: text,
    int: st.integers(-(2**63), 2**63),
    float: st.floats(allow_nan=False, allow_infinity=False) | st.integers(-(2**53), 2**53),
    bool: st.booleans(),
    dt.datetime: timestamp_text() | st.integers(0, 4 * 10**12),
    dt.date: st.dates(dt.date(1971, 1, 1)).map(dt.date.isoformat),
}


def _required(f: attrs.Attribute[Any]) -> bool:
    return f.default is attrs.NOTHING


def of_kind(kind: Kind) -> st.SearchStrategy[Any]:
    return {
        "null": st.none(),
        "bool": st.booleans(),
        "int": st.integers(-(2**70), 2**70),
        "float": st.floats(allow_nan=False, allow_infinity=False),
        "str": text | timestamp_text(),
        "array": st.lists(json_values, max_size=2),
        "object": st.dictionaries(keys, json_values, max_size=2),
    }[kind]


def declared_kinds(t: Any) -> set[Kind]:
    """The JSON types that fit ``t`` (the value is not "of another JSON type")."""
    members, nullable = _members(t)
    found = {"null"} if nullable else set()
    for m in members:
        origin = typing.get_origin(m)
        if m is Any:
            found |= set(KINDS)
        elif m in (str, dt.datetime, dt.date) or typing.get_origin(m) is Literal:
            found.add("str")
        elif m in (int, float):
            found |= {"int", "float"} if m is float else {"int"}
        elif m is bool:
            found.add("bool")
        elif origin is list:
            found.add("array")
        elif origin is dict or attrs.has(m):
            found.add("object")
    return found


class Refused(Exception):
    pass


def expected(value: Any, t: Any) -> Any:
    """The oracle: what the documented rules make of ``value`` (of any JSON type) for ``t``."""
    members, nullable = _members(t)
    if value is None:
        if nullable or t is Any:
            return None
        raise Refused
    if len(members) > 1:  # a union: what the first member that takes it makes of it
        for member in members:
            try:
                return expected(value, member)
            except Refused:
                pass
        raise Refused
    (m,) = members
    if m is Any:
        return value
    if m is float and isinstance(value, int) and not isinstance(value, bool):
        try:
            return float(value)
        except OverflowError:
            raise Refused from None
    if m is dt.datetime and isinstance(value, int | float) and not isinstance(value, bool):
        try:
            return dt.datetime.fromtimestamp(value / 1000 if value > 10**11 else value, dt.UTC)
        except (OverflowError, OSError, ValueError):
            raise Refused from None
    raise Refused  # any other value of another JSON type


@st.composite
def drifted(draw: st.DrawFn) -> tuple[type, dict[str, Any], list[Any], str, Any, Any]:
    """A valid payload of some result class, one field (at any depth) replaced.

    Returns (class, payload, steps to the field, its path as the error names it, declared
    type, the value sent)."""
    cls = draw(st.sampled_from(RESULTS))
    payload = draw(valid(cls))
    slots = list(_slots(payload, cls, [], ""))
    assume(slots)
    steps, path, t = draw(st.sampled_from(slots))
    # Another JSON type; for a json field (every type fits) any value.
    kind = draw(st.sampled_from([k for k in KINDS if k not in declared_kinds(t)] or KINDS))
    value = draw(of_kind(kind))
    parent = payload
    for step in steps[:-1]:
        parent = parent[step]
    parent[steps[-1]] = value
    return cls, payload, steps, path, t, value


def _slots(value: Any, t: Any, steps: list[Any], path: str) -> Any:
    """Every place of the payload that holds a declared type: (steps, path, type)."""
    members, _ = _members(t)
    if value is None or len(members) != 1:
        return
    (m,) = members
    origin, args = typing.get_origin(m), typing.get_args(m)
    if attrs.has(m) and isinstance(value, dict):
        for f in attrs.fields(m):
            here = f"{path}.{f.alias}" if path else f.alias
            yield [*steps, f.alias], here, f.type
            if f.alias in value:
                yield from _slots(value[f.alias], f.type, [*steps, f.alias], here)
    elif origin is list and isinstance(value, list):
        for i, item in enumerate(value):
            yield [*steps, i], f"{path}[{i}]", args[0]
            yield from _slots(item, args[0], [*steps, i], f"{path}[{i}]")
    elif origin is dict and isinstance(value, dict):
        for k, item in value.items():
            yield [*steps, k], f"{path}[{k!r}]", args[1]
            yield from _slots(item, args[1], [*steps, k], f"{path}[{k!r}]")


def _at(result: Any, steps: list[Any]) -> Any:
    for step in steps:
        if isinstance(step, str) and attrs.has(type(result)):
            field = next(f for f in attrs.fields(type(result)) if f.alias == step)
            result = getattr(result, field.name)
        else:
            result = result[step]
    return result


@SETTINGS
@given(drifted())
def test_one_field_of_another_type_reads_as_sent_or_is_refused(
    case: tuple[type, dict[str, Any], list[Any], str, Any, Any],
) -> None:
    cls, payload, steps, path, t, value = case
    try:
        want = expected(value, t)
    except Refused:
        err = refusal(payload, cls)
        assert err.path == path, (err.path, path, str(err))
        return
    got = structure_result(GET, cls, payload, status=200, headers={})
    assert _at(got, steps) == want
    assert type(_at(got, steps)) is type(want)


def test_the_property_covers_every_result_shape() -> None:
    assert len(RESULTS) > 100
    assert all(issubclass(c, Result) for c in RESULTS)


# ----------------------------------------------------- 3. msgspec and cattrs agree


@st.composite
def payloads(draw: st.DrawFn) -> tuple[type, Any]:
    cls = draw(st.sampled_from(RESULTS))
    if draw(st.integers(0, 4)) == 0:
        return cls, draw(json_values)
    if draw(st.booleans()):
        case = draw(drifted())
        return case[0], case[1]
    return cls, draw(valid(cls))


def _read(how: Any, payload: Any, cls: type) -> tuple[str, Any]:
    try:
        return "ok", how(payload, cls)
    except Exception:
        return "refused", None


@SETTINGS
@given(payloads())
def test_msgspec_and_the_strict_converter_agree(case: tuple[type, Any]) -> None:
    cls, payload = case
    fast = _read(lambda p, c: msgspec.convert(p, c), payload, cls)
    slow = _read(strict.structure, payload, cls)
    both = _read(decode, payload, cls)
    if fast[0] == "ok":  # msgspec never accepts what the rules refuse, nor reads it otherwise
        assert slow[0] == "ok" and repr(fast[1]) == repr(slow[1])
    assert both[0] == slow[0] and repr(both[1]) == repr(slow[1])


def test_both_decoders_are_exercised() -> None:
    payload = entity(created_at="2025-01-02T20:48:45.1234565Z")
    assert msgspec.convert(payload, CatalogEntitiesInfoResult) == strict.structure(
        payload, CatalogEntitiesInfoResult
    )
    numeric = entity(created_at=1_700_000_000)
    with pytest.raises(msgspec.ValidationError):
        msgspec.convert(numeric, CatalogEntitiesInfoResult)
    assert decode(numeric, CatalogEntitiesInfoResult).entity.created_at is not None


def test_renamed_fields_are_read_under_their_wire_name() -> None:
    read = decode({"nextCursor": "c2", "next_cursor": "wrong"}, Renamed)
    assert read.next_cursor == "c2"
    assert strict.unstructure(read) == {"nextCursor": "c2"}


# ------------------------------------------------------ 4. nothing DX sent is lost


async def test_typed_results_keep_their_response(mocked: Any, token: str) -> None:
    headers = {"X-RateLimit-Remaining": "999", "X-Request-Id": "req-1"}
    payload = {"ok": True, "entity": {"identifier": "svc", "new_field": 1}, "extra": [1]}
    mocked.get(url_pattern("catalog.entities.info"), payload=payload, headers=headers)
    page = {"ok": True, "entities": [{"identifier": "a"}], "response_metadata": {}}
    mocked.get(url_pattern("catalog.entities.list"), payload=page, headers=headers)
    async with dxapi.Client(token=token) as dx:
        result = await dx.catalog.entities.info(identifier="svc")
        pages = [p async for p in dx.catalog.entities.list().pages()]
    assert dxapi.raw(result) == payload
    response = dxapi.response_of(result)
    assert isinstance(response, dxapi.Response) and response.status == 200
    assert response.headers["x-ratelimit-remaining"] == "999"
    assert response.headers["X-Request-Id"] == "req-1"
    assert dxapi.raw(pages[0]) == page and dxapi.response_of(pages[0]).status == 200
    assert result == attrs.evolve(result)  # the hidden slot is not part of equality


def test_raw_of_something_not_built_from_an_answer_is_a_clear_error() -> None:
    with pytest.raises(TypeError, match="was not built by dxapi"):
        dxapi.raw(CatalogEntitiesInfoResult(entity=Entity(identifier="x")))
    assert dxapi.raw({"ok": True, "loose": 1}) == {"ok": True, "loose": 1}


def test_import_stays_cheap_and_cattrs_waits_for_a_refusal() -> None:
    code = """if True:
    import sys
    import dxapi
    from dxapi._generated import specs
    from dxapi._generated.web.catalog import CatalogEntitiesInfoResult as R
    from dxapi._session import Session
    print("msgspec" in sys.modules, "cattrs" in sys.modules)
    Session.structure(specs.CATALOG_ENTITIES_INFO, {"entity": {"identifier": "a"}}, R)
    print("msgspec" in sys.modules, "cattrs" in sys.modules)
    Session.structure(specs.CATALOG_ENTITIES_INFO, {"entity": {"identifier": "a", "created_at": 1}}, R)
    print("msgspec" in sys.modules, "cattrs" in sys.modules)
    """
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split("\n")[:3] == ["False False", "True False", "True True"]


_LIST_PAYLOADS = [
    {"ok": True, "entities": [{"identifier": "a", "created_at": "2025-01-02 03:04:05.123456"}]},
    {"ok": True, "entities": [{"identifier": "a", "created_at": 1735787045}], "new_key": [1]},
    {"ok": True, "entities": [{"identifier": "a", "name": None, "future": {"x": 1}}]},
    {"ok": True, "entities": [{"identifier": 3}]},  # refused by both ways
    {"ok": True, "entities": [], "response_metadata": {"next_cursor": "c1"}},
]


@pytest.mark.parametrize("payload", _LIST_PAYLOADS)
def test_an_answer_decoded_from_its_body_is_the_payloads_result(payload: dict[str, Any]) -> None:
    # A typed call builds its result straight from the body; results, refusals and raw()
    # are those of structuring the decoded payload.
    import json

    from dxapi._classify import Undecoded, classify
    from dxapi._convert import structure_answer

    spec, body = specs.CATALOG_ENTITIES_LIST, json.dumps(payload).encode()
    answer = classify(spec, 200, {"x-request-id": "r"}, body, into=CatalogEntitiesListResult)
    assert isinstance(answer, Undecoded) and not answer.decoded
    assert answer.head == {k: payload[k] for k in ("response_metadata",) if k in payload}

    def outcome(build: Any) -> Any:
        try:
            return build()
        except dxapi.ResponseValidationError as exc:
            return ("refused", str(exc))

    want = outcome(
        lambda: structure_result(spec, CatalogEntitiesListResult, payload, status=200, headers={})
    )
    got = outcome(lambda: structure_answer(spec, CatalogEntitiesListResult, answer))
    assert got == want
    if isinstance(got, tuple):
        return
    assert dxapi.raw(got) == payload and dxapi.response_of(got).headers["x-request-id"] == "r"


def test_an_answer_msgspec_cannot_read_whole_is_read_as_before() -> None:
    from dxapi._classify import Undecoded, classify

    spec = specs.CATALOG_ENTITIES_LIST
    for body in (b'{"ok": true, "entities": [], "x": NaN}', b'{"ok": true, "e": "\xff"}'):
        assert not isinstance(
            classify(spec, 200, {}, body, into=CatalogEntitiesListResult), Undecoded
        )
    refused = classify(
        spec, 200, {}, b'{"ok": false, "error": "x"}', into=CatalogEntitiesListResult
    )
    assert not isinstance(refused, Undecoded | dxapi.Response)
    big = classify(
        spec, 200, {}, b'{"ok": true, "entities": [], "n": 1e400}', into=CatalogEntitiesListResult
    )
    assert isinstance(big, Undecoded) and big.payload["n"] == float("inf")


_INFO_BODIES = [
    b'{"ok":true,"entity":{"identifier":"a","owner_teams":[{"id":"t"}]}}',  # DX's own form
    b'{"ok": true, "entity": {"identifier": "a", "name": "\xc3\xa9t\xc3\xa9"}}',
    b'{"entity": {"identifier": "a"}}',  # no ok at all
    b'{"ok":true,"entity":{"identifier":"a","properties":{"ok":false}}}',  # a nested ok
    b'{"ok":true,"entity":{"identifier":"a"},"ok":false}',  # the last ok is the one
    b'{"\\u006fk":false,"entity":{"identifier":"a"}}',  # ok, spelt with an escape
    b'{"entity":{"identifier":"a"},"ok":false,"error":"not_found"}',
    b'{"ok":true,"entity":{"identifier":"a"},"x":"\xff"}',  # not UTF-8, in a skipped key
    b'{"ok":true,"entity":{"identifier":"a"}} trailing',
    b'{"ok":true,"entity":{"identifier":"a","created_at":1735787045}}',  # the strict way's
    b'{"ok":true,"entity":{"identifier":7}}',  # refused by both ways
    b'{"ok":true,"entity":{"identifier":"a"},"n":1e400}',
]


@pytest.mark.parametrize("body", _INFO_BODIES)
def test_a_typed_answer_decoded_in_the_loop_is_what_the_payload_says(body: bytes) -> None:
    # A typed call that does not page is decoded into its result inside the request loop
    # when the bytes show what DX meant; every other answer takes the payload's way. Either
    # way the outcome (result, refusal, error or retry) is that of the whole payload.
    from dxapi._classify import Undecoded, classify
    from dxapi._convert import structure_answer

    spec, cls = specs.CATALOG_ENTITIES_INFO, CatalogEntitiesInfoResult

    def outcome(answer: Any) -> Any:
        if not isinstance(answer, dxapi.Response):
            return ("failed", answer.outcome.kind, type(answer.error).__name__)
        try:
            got = structure_answer(spec, cls, answer)
        except dxapi.ResponseValidationError as exc:
            return ("refused", str(exc))
        assert dxapi.raw(got) == answer.payload
        return got

    typed = classify(spec, 200, {}, body, into=cls)
    if body.startswith(b'{"ok":true,"entity":{"identifier":"a","owner'):  # the fast way
        assert isinstance(typed, Undecoded) and isinstance(typed.typed, cls)
        assert not typed.decoded
    assert outcome(typed) == outcome(classify(spec, 200, {}, body))
