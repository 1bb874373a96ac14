"""Property tests: the wire encoding round-trips, and no response body crashes the decoder.

1. Any registry-valid argument set (drawn from a method's ``ArgSpec`` facts) goes through
   ``encode_request`` and the same URL/form/JSON encoding aiohttp applies, and decodes back to
   the input as the wire represents it (text for the query and forms, JSON for bodies).
2. Any response — random status, Retry-After, bytes or JSON — classifies into a ``Response``
   or a ``DXError`` (possibly wrapped for a retry), and any JSON payload structures into the
   method's typed result or a ``DXError``. Never anything else.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import string
import urllib.parse
from collections.abc import Mapping
from typing import Any

import attrs
import yarl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import dxapi
import dxapi.types
from dxapi._classify import classify as classify_answer
from dxapi._generated.results import RESULTS as RESULT_MODULES
from dxapi._generated.specs import METHODS
from dxapi._response import Response
from dxapi._retry import AttemptFailed
from dxapi._session import Session
from dxapi._spec import ArgSpec, MethodSpec, TypeRef, check_args
from dxapi._wire import decode_json_body, encode_request

SETTINGS = settings(
    max_examples=int(os.environ.get("DXAPI_EXAMPLES", "150")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
SPECS = sorted(METHODS.values(), key=lambda s: s.name)
SCALARS = ("str", "int", "float", "bool", "date", "datetime")

# ---------------------------------------------------------------------------- strategies

text = st.text(st.characters(exclude_categories=["Cs"]), max_size=12)
keys = st.text(string.ascii_letters + string.digits + "_-", min_size=1, max_size=8)
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**53), 2**53)
    | st.floats(allow_nan=False, allow_infinity=False)
    | text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(keys, inner, max_size=3),
    max_leaves=8,
)
# Naive datetimes are refused (no zone is guessed): tests/test_bad_input.py covers them.
ZONES: Any = st.sampled_from([dt.UTC, dt.timezone(dt.timedelta(hours=5, minutes=30))])


def values(t: TypeRef, arg: ArgSpec, *, in_list: bool = False) -> st.SearchStrategy[Any]:
    """Values that ``check_args`` accepts for type ``t``."""
    if arg.enum and t == "str":
        return st.sampled_from(arg.enum)
    if isinstance(t, tuple):
        kind = t[0]
        if kind == "list":
            # Comma-joined in a query: items must not contain commas (a known ambiguity).
            return st.lists(values(t[1], arg, in_list=True), min_size=1, max_size=3)
        if kind == "map":
            return st.dictionaries(keys, values(t[1], arg), max_size=3)
        if kind == "union":
            return st.one_of(*(values(x, arg) for x in t[1:]))
        return st.dictionaries(keys, json_values, max_size=3)  # a shape, given as a mapping
    if t == "str":
        return text.filter(lambda s: "," not in s) if in_list else text
    if t == "int":
        return st.integers(-(2**53), 2**53)
    if t == "float":
        return st.floats(allow_nan=False, allow_infinity=False)
    if t == "bool":
        return st.booleans()
    if t == "json":
        return json_values
    if t == "date":
        return st.dates(dt.date(1971, 1, 1), dt.date(2100, 1, 1))
    if t == "datetime":
        moments = st.datetimes(dt.datetime(1971, 1, 1), dt.datetime(2100, 1, 1), timezones=ZONES)
        if arg.format != "iso":
            return moments | st.integers(0, 2**32)
        return moments
    if t == "file":
        return st.binary(max_size=64)
    raise AssertionError(f"no strategy for {t!r}")


@st.composite
def calls(draw: st.DrawFn) -> tuple[MethodSpec, dict[str, Any], str]:
    spec = draw(st.sampled_from(SPECS))
    args: dict[str, Any] = {}
    for arg in spec.args:
        if arg.required or draw(st.booleans()):
            if arg.nullable and draw(st.integers(0, 4)) == 0:
                args[arg.name] = None
            elif arg.name == spec.idempotent_when:  # an idempotency key is never blank
                key = values(arg.type, arg).filter(lambda v: not isinstance(v, str) or v.strip())
                args[arg.name] = draw(key)
            else:
                args[arg.name] = draw(values(arg.type, arg))
    encoding = draw(st.sampled_from(["json", "form"]))
    return spec, args, encoding


# ------------------------------------------------------------------------------- decoding


def _is_scalar_type(t: TypeRef) -> bool:
    return isinstance(t, str) and t in SCALARS


def json_form(value: Any, arg: ArgSpec) -> Any:
    """The input as a JSON body carries it."""
    if isinstance(value, dt.datetime):
        if arg.format == "iso":
            return value.isoformat()
        moment = value if value.tzinfo else value.replace(tzinfo=dt.UTC)
        seconds = int(moment.timestamp())
        return str(seconds) if arg.format == "unix_text" else seconds
    if isinstance(value, dt.date):
        return value.isoformat()
    if arg.format == "unix_text" and isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, list | tuple):
        return [json_form(v, arg) for v in value]
    if isinstance(value, Mapping):
        return {k: json_form(v, arg) for k, v in value.items()}
    return value


def text_matches(value: Any, got: str, t: TypeRef, arg: ArgSpec, *, form: bool) -> bool:
    """Whether query/form text ``got`` carries ``value`` of type ``t``."""
    if value is None:
        return got == ""
    if isinstance(t, tuple) and t[0] == "union":
        return any(
            text_matches(value, got, x, arg, form=form) for x in t[1:] if _fits(arg, x, value)
        )
    if isinstance(t, tuple) and t[0] == "list" and _is_scalar_type(t[1]) and not form:
        parts = got.split(",")
        return len(parts) == len(value) and all(
            text_matches(v, p, t[1], arg, form=form) for v, p in zip(value, parts, strict=True)
        )
    if isinstance(t, tuple) or t == "json":
        if t == "json" and isinstance(value, str):
            return got == value
        if t == "json" and not isinstance(value, list | dict):
            return got == _scalar_text(value)
        return bool(json.loads(got) == json_form(value, arg))
    if t == "datetime" and arg.format != "iso" and not isinstance(value, dt.datetime | str):
        return int(got) == int(value)
    if t in ("date", "datetime") and not isinstance(value, str):
        wire = json_form(value, arg)
        return got == str(wire)
    return got == _scalar_text(value)


def _scalar_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value) if float(str(value)) == value else str(value)
    return str(value)


def _one(arg: ArgSpec, t: TypeRef) -> MethodSpec:
    return MethodSpec("x.y", "GET", "web", args=(attrs.evolve(arg, type=t, required=True),))


def _fits(arg: ArgSpec, t: TypeRef, value: Any) -> bool:
    try:
        check_args(_one(arg, t), {arg.name: value})
    except dxapi.ArgumentError:
        return False
    return True


def through_the_url(pairs: tuple[tuple[str, str], ...]) -> list[tuple[str, str]]:
    """What the server parses from the query string aiohttp would build from ``pairs``."""
    url = yarl.URL("http://127.0.0.1/m").extend_query(list(pairs))
    return urllib.parse.parse_qsl(url.raw_query_string, keep_blank_values=True)


def through_a_form(pairs: tuple[tuple[str, str], ...]) -> list[tuple[str, str]]:
    body = urllib.parse.urlencode(list(pairs), doseq=True)  # aiohttp.FormData does this
    return urllib.parse.parse_qsl(body, keep_blank_values=True)


@SETTINGS
@given(calls())
def test_wire_encoding_round_trips(call: tuple[MethodSpec, dict[str, Any], str]) -> None:
    spec, args, encoding = call
    given_args = check_args(spec, args)  # registry-valid by construction
    prepared = encode_request(spec, given_args, encoding)  # type: ignore[arg-type]
    assert prepared.method == spec.http
    assert prepared.path == "/" + spec.name
    query = through_the_url(prepared.query)
    assert query == list(prepared.query)
    form = through_a_form(prepared.form) if prepared.form is not None else []
    if prepared.form is not None:
        assert form == list(prepared.form)
    body = json.loads(json.dumps(prepared.json)) if prepared.json is not None else {}
    sent: dict[str, tuple[str, Any]] = {}
    for k, v in query:
        sent[k] = ("query", v)
    for k, v in form:
        sent[k] = ("form", v)
    for k, v in body.items():
        sent[k] = ("json", v)
    for name, value in given_args.items():
        arg = spec.arg(name)
        assert arg is not None
        if spec.upload == name:
            assert prepared.file == (name, value)
            continue
        if arg.prefix is not None:
            for key, item in value.items():
                where, got = sent.pop(arg.prefix + key)
                check_one(item, where, got, "json", arg)
            continue
        where, got = sent.pop(name)
        check_one(value, where, got, arg.type, arg)
    assert sent == {}, f"sent but never given: {sorted(sent)}"


def check_one(value: Any, where: str, got: Any, t: TypeRef, arg: ArgSpec) -> None:
    if where == "json":
        assert got == json_form(value, arg), (arg.name, value, got)
    else:
        assert text_matches(value, got, t, arg, form=where == "form"), (arg.name, value, got)


# ------------------------------------------------------------------- decoding responses

statuses = st.sampled_from(
    [200, 201, 204, 301, 303, 400, 401, 403, 404, 408, 409, 410, 429]
) | st.integers(100, 599)
retry_afters = (
    st.none()
    | st.sampled_from(
        ["0", "1", "1.5", "-1", "nan", "1e999", "soon", "Wed, 21 Oct 2015 07:28:00 GMT", "99999"]
    )
    | text
)
json_bodies = st.one_of(
    json_values,
    st.fixed_dictionaries(
        {"ok": st.booleans() | json_values},
        optional={"error": json_values, "message": json_values, "error_details": json_values},
    ),
).map(lambda v: json.dumps(v).encode())
bodies = st.binary(max_size=200) | json_bodies | st.just(b"")


@SETTINGS
@given(st.sampled_from(SPECS), statuses, retry_afters, bodies)
def test_no_body_crashes_the_classifier(
    spec: MethodSpec, status: int, retry_after: str | None, body: bytes
) -> None:
    headers = {} if retry_after is None else {"retry-after": retry_after}
    outcome = classify(spec, status, headers, body)
    if isinstance(outcome, Response):
        assert isinstance(outcome.payload, dict)
        assert 200 <= status < 300
    else:
        assert isinstance(outcome, dxapi.DXError)
        assert str(outcome)


def classify(
    spec: MethodSpec, status: int, headers: dict[str, str], body: bytes
) -> Response | BaseException:
    """The answer, or the DXError the caller would get (unwrapped from a retry)."""
    verdict = classify_answer(spec, status, headers, body)
    return verdict.error if isinstance(verdict, AttemptFailed) else verdict


@SETTINGS
@given(statuses, bodies)
def test_no_body_crashes_decode_json_body(status: int, body: bytes) -> None:
    try:
        payload = decode_json_body("x.y", status, body)
    except dxapi.DXError:
        return
    assert isinstance(payload, dict)


def _result_classes() -> dict[str, type]:
    """Every result type that is an attrs class, by its generated name."""
    found: dict[str, type] = {}
    for name in RESULT_MODULES:
        obj = getattr(dxapi.types, name)
        if isinstance(obj, type) and attrs.has(obj):
            found[name] = obj
    return found


RESULTS = _result_classes()
TYPED = [s for s in SPECS if s.result in RESULTS]


@st.composite
def payload_for(draw: st.DrawFn) -> tuple[MethodSpec, type, Any]:
    spec = draw(st.sampled_from(TYPED))
    cls = RESULTS[spec.result or ""]
    fields = {f.name: json_values for f in attrs.fields(cls)}
    payload = draw(st.fixed_dictionaries({}, optional=fields) | json_values)
    return spec, cls, payload


@SETTINGS
@given(payload_for())
def test_any_payload_structures_or_raises_a_dxerror(case: tuple[MethodSpec, type, Any]) -> None:
    spec, cls, payload = case
    if not isinstance(payload, dict):
        payload = {"ok": True, "value": payload}
    try:
        result: Any = Session.structure(spec, payload, cls)
    except dxapi.DXError:
        return
    assert isinstance(result, cls)


def test_typed_results_are_found() -> None:
    assert len(TYPED) > len(SPECS) // 2
