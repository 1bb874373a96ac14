"""dxapi._values: whether a value can travel exactly as given, and which headers may be set."""

from __future__ import annotations

import datetime as dt
import json

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dxapi._values import header_problems, unencodable


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("ok ünïcode 🐢", None),
        ("a\udcffb", "'\\udcff' at index 1"),
        (["a", ("b", "\ud800")], "[1][1] has a lone surrogate"),
        ({"k": {"\udc00": 1}}, "['k'] key has a lone surrogate"),
        ({1: "a"}, "has the key 1, not a str"),
        ([1.5, -0.0, 10**30, True, None], None),
        ({"x": float("-inf")}, "['x'] is -inf"),
        (dt.datetime(2024, 1, 1, tzinfo=dt.UTC), None),
        ([dt.date(2024, 1, 1), dt.datetime(2024, 1, 1)], "[1] is a naive datetime"),
        ({"s": {1, 2}}, "['s'] is a set"),
        (b"raw", "is a bytes"),
        (object(), "is a object"),
    ],
)
def test_unencodable_finds_the_first_value_that_cannot_travel(
    value: object, reason: str | None
) -> None:
    found = unencodable(value)
    if reason is None:
        assert found is None
    else:
        assert found is not None and reason in found, found


@attrs.frozen
class _Shape:
    name: str
    tags: list[object]


def test_input_shapes_are_checked_field_by_field() -> None:
    assert unencodable(_Shape("a", [1, "b"])) is None
    found = unencodable(_Shape("a", [1, float("nan")]))
    assert found is not None and found.startswith(".tags[1] is nan")


@pytest.mark.parametrize(
    ("name", "value", "problem"),
    [
        ("X-Trace", "abc 123", None),
        ("X Trace", "v", "is not an HTTP header name"),
        ("authorization", "Bearer other", "dxapi sets authorization itself"),
        ("Content-Type", "text/plain", "dxapi sets Content-Type itself"),
        ("X-Count", 3, "must be str, got int"),
        ("X-Note", "two\r\nlines", "has a line break"),
        ("X-Name", "zoë", "non-ASCII"),
    ],
)
def test_header_problems_name_the_header_and_what_is_wrong(
    name: str, value: object, problem: str | None
) -> None:
    found = header_problems(name, value)
    if problem is None:
        assert found == []
    else:
        (text,) = found
        assert problem in text, text


# Text that includes lone surrogates (hypothesis leaves them out unless asked).
_ANY_TEXT = st.text(st.characters(exclude_categories=()) | st.sampled_from("\ud800\udcff"))
_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | _ANY_TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_ANY_TEXT, inner, max_size=3),
    max_leaves=10,
)


@settings(max_examples=300, deadline=None)
@given(_VALUES)
def test_a_value_passes_exactly_when_it_survives_strict_json_and_utf8(value: object) -> None:
    try:
        text = json.dumps(value, ensure_ascii=False, allow_nan=False)
        travels = json.loads(text.encode("utf-8")) == value
    except (ValueError, UnicodeEncodeError):
        travels = False
    assert (unencodable(value) is None) == travels, unencodable(value)
