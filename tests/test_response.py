"""The answer value the request loop returns."""

from __future__ import annotations

import email.utils
import time

from dxapi._response import Response


def test_retry_after_in_seconds_or_as_a_date() -> None:
    assert Response(200, {"retry-after": "7"}, {}).retry_after == 7
    later = email.utils.formatdate(time.time() + 30, usegmt=True)
    assert 25 <= (Response(200, {"retry-after": later}, {}).retry_after or 0) <= 31
    assert Response(200, {}, {}).retry_after is None


def test_a_response_is_a_frozen_value() -> None:
    a = Response(200, {"x": "1"}, {"ok": True})
    assert a == Response(200, {"x": "1"}, {"ok": True})
    try:
        a.status = 500  # type: ignore[misc]
    except AttributeError:
        pass
    else:
        raise AssertionError("Response is not frozen")
