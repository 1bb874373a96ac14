"""What one answer means (pure: status, headers and body in, a Response or a verdict out)."""

from __future__ import annotations

import json

import dxapi
from dxapi._classify import classify
from dxapi._generated.specs import METHODS
from dxapi._generated.web.catalog import CatalogEntitiesInfoResult as InfoResult
from dxapi._response import Response
from dxapi._retry import AttemptFailed

INFO = METHODS["catalog.entities.info"]
RESULTS = METHODS["studio.queryRuns.results"]


def _body(payload: object) -> bytes:
    return json.dumps(payload).encode()


def test_a_2xx_json_object_is_the_answer() -> None:
    got = classify(INFO, 200, {"x-request-id": "r1"}, _body({"ok": True, "entity": {}}))
    assert isinstance(got, Response)
    assert got.payload == {"ok": True, "entity": {}} and got.headers["x-request-id"] == "r1"


def test_ok_false_with_200_is_the_apis_refusal_and_final() -> None:
    got = classify(INFO, 200, {}, _body({"ok": False, "error": "invalid_type"}))
    assert isinstance(got, AttemptFailed)
    assert got.outcome.kind == "fatal"
    assert isinstance(got.error, dxapi.APIError) and got.error.error == "invalid_type"


def test_a_429_carries_its_retry_after() -> None:
    got = classify(INFO, 429, {"retry-after": "3"}, b"")
    assert isinstance(got, AttemptFailed)
    assert got.outcome.kind == "rate_limited" and got.outcome.retry_after == 3
    assert isinstance(got.error, dxapi.RateLimitError)


def test_a_5xx_page_that_is_not_json_may_be_retried() -> None:
    got = classify(INFO, 502, {"content-type": "text/html"}, b"<html>bad gateway</html>")
    assert isinstance(got, AttemptFailed)
    assert got.outcome.kind == "status"
    assert isinstance(got.error, dxapi.TransportError) and got.error.status == 502


def test_an_html_404_is_final() -> None:
    got = classify(INFO, 404, {"content-type": "text/html"}, b"<html>no</html>")
    assert isinstance(got, AttemptFailed) and got.outcome.kind == "fatal"


def test_the_methods_pending_error_means_ask_again() -> None:
    body = _body({"ok": False, "error": "execution_not_complete"})
    got = classify(RESULTS, 409, {"retry-after": "2"}, body)
    assert isinstance(got, AttemptFailed)
    assert got.outcome.kind == "pending" and got.outcome.retry_after == 2
    assert classify(INFO, 409, {}, body).outcome.kind == "fatal"  # type: ignore[union-attr]


def test_a_redirect_is_an_error_unless_downloading() -> None:
    plain = classify(INFO, 303, {"location": "https://files.example/x"}, b"")
    assert isinstance(plain, AttemptFailed) and plain.outcome.kind == "fatal"
    hop = classify(INFO, 303, {"location": "https://files.example/x"}, b"", download=True)
    assert isinstance(hop, AttemptFailed) and hop.outcome.kind == "redirect"
    assert hop.outcome.location == "https://files.example/x"


def test_the_fast_decoder_reads_what_json_loads_reads() -> None:
    # msgspec decodes first; what it refuses (NaN, a BOM, a lone surrogate, a huge exponent)
    # is read by json.loads, so no answer is read differently or refused where it was not.
    bodies = [
        b'{"ok": true, "n": 123456789012345678901234567890, "f": -0.0, "a": 1, "a": 2}',
        b'{"ok": true, "x": NaN}',
        b'\xef\xbb\xbf{"ok": true}',
        b'{"ok": true, "s": "\\ud800"}',
        b'{"ok": true, "big": 1e400}',
    ]
    for body in bodies:
        got = classify(INFO, 200, {}, body)
        assert isinstance(got, Response), body
        assert repr(got.payload) == repr(json.loads(body)), body
    assert isinstance(classify(INFO, 200, {}, b'{"ok": true, "s": "\xff"}'), AttemptFailed)


def test_an_undecoded_answer_copies_and_pickles_as_its_response() -> None:
    import copy
    import pickle

    from dxapi._classify import Undecoded

    answer = classify(
        INFO, 200, {"x": "1"}, _body({"ok": True, "entity": {"identifier": "a"}}), into=InfoResult
    )
    assert isinstance(answer, Undecoded)
    plain = Response(200, {"x": "1"}, {"ok": True, "entity": {"identifier": "a"}})
    assert copy.copy(answer) == plain and pickle.loads(pickle.dumps(answer)) == plain
    assert answer.payload == plain.payload and answer.status == 200
