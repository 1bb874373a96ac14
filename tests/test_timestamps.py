"""How answers' timestamps and dates are read (the forms DX sends, and nothing else)."""

from __future__ import annotations

import datetime as dt

import pytest

from dxapi._timestamps import Mismatch, parse_date, parse_datetime

UTC = dt.UTC


@pytest.mark.parametrize(
    ("sent", "read"),
    [
        ("2025-01-02T20:48:45Z", dt.datetime(2025, 1, 2, 20, 48, 45, tzinfo=UTC)),
        ("2025-01-02 20:48:45.77969", dt.datetime(2025, 1, 2, 20, 48, 45, 779690)),
        ("2026-02-10 0:00:00", dt.datetime(2026, 2, 10, 0, 0)),  # a one-digit hour
        (1680723287, dt.datetime(2023, 4, 5, 19, 34, 47, tzinfo=UTC)),  # Unix seconds
        (1680723287000, dt.datetime(2023, 4, 5, 19, 34, 47, tzinfo=UTC)),  # milliseconds
    ],
)
def test_timestamps_in_the_forms_dx_sends(sent: object, read: dt.datetime) -> None:
    assert parse_datetime(sent) == read


@pytest.mark.parametrize("sent", [True, [2025], {"at": 1}, None])
def test_values_of_another_type_are_mismatches(sent: object) -> None:
    with pytest.raises(Mismatch):
        parse_datetime(sent)
    with pytest.raises(Mismatch):
        parse_date(sent)


def test_text_that_is_no_timestamp_is_refused() -> None:
    with pytest.raises(ValueError):
        parse_datetime("yesterday")


def test_dates_and_a_timestamps_date_as_written() -> None:
    assert parse_date("2025-03-04") == dt.date(2025, 3, 4)
    assert parse_date("2025-03-04 23:59:59") == dt.date(2025, 3, 4)
