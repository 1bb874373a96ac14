"""The one cattrs converter that turns DX payloads into shapes, and shapes back into payloads.

Unknown keys are ignored, so a field DX adds tomorrow never breaks today's client. Timestamps
are parsed leniently (DX writes both ``2025-01-02 20:48:45.77969`` and ``...T...Z``).
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any, TypeVar

import cattrs

__all__ = ["converter", "parse_datetime", "structure"]

T = TypeVar("T")

# detailed_validation=False: structuring code without per-field error bookkeeping (several
# times faster); a mismatch still raises, and the session reports it as a TransportError.
converter = cattrs.Converter(
    forbid_extra_keys=False, omit_if_default=False, detailed_validation=False
)


def parse_datetime(value: Any) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = value / 1000 if value > 10**11 else value  # milliseconds, by magnitude
        return dt.datetime.fromtimestamp(seconds, dt.UTC)
    if isinstance(value, str):
        # DX sometimes writes a one-digit hour ("2026-02-10 0:00:00"); ISO wants two.
        return dt.datetime.fromisoformat(_ONE_DIGIT_HOUR.sub(r"\g<1>0\g<2>", value.strip()))
    raise TypeError(f"not a timestamp: {value!r}")


_ONE_DIGIT_HOUR = re.compile(r"^(\d{4}-\d{2}-\d{2}[ T])(\d:)")


def _parse_date(value: Any, _: Any) -> dt.date:
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        return dt.date.fromisoformat(value.strip()[:10])
    raise TypeError(f"not a date: {value!r}")


converter.register_structure_hook(dt.datetime, lambda v, _: parse_datetime(v))
converter.register_structure_hook(dt.date, _parse_date)
converter.register_unstructure_hook(dt.datetime, lambda v: v.isoformat())
converter.register_unstructure_hook(dt.date, lambda v: v.isoformat())


def structure(payload: Any, cls: type[T]) -> T:
    return converter.structure(payload, cls)
