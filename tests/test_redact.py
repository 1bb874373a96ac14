"""dxapi._redact: ``redact()``, remembered secrets and the logging filter (pure)."""

from __future__ import annotations

import gc
import logging

import pytest

from dxapi._redact import REDACTED, RedactFilter, redact, remember_secret


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Authorization: Bearer abc.def-123", f"Authorization: Bearer {REDACTED}"),
        ("authorization=bearer%20abc123 x=1", f"authorization=bearer%20{REDACTED} x=1"),
        ("auth: BEARER+abc123, next", f"auth: BEARER+{REDACTED}, next"),
        ("'Bearer abc' and \"Bearer xyz\"", f"'Bearer {REDACTED}' and \"Bearer {REDACTED}\""),
    ],
)
def test_bearer_credentials_are_replaced_in_any_spelling(text: str, expected: str) -> None:
    assert redact(text) == expected


def test_a_remembered_secret_is_redacted_until_its_handle_is_dropped() -> None:
    secret = "dxs-" + "7f3a9c2e1b"  # built at run time, so no constant keeps it alive
    handle = remember_secret(secret)
    assert remember_secret(secret) is handle  # one handle per secret
    assert redact(f"url?token={secret}&x") == f"url?token={REDACTED}&x"
    del handle
    gc.collect()
    assert redact(f"token={secret}") == f"token={secret}"


def test_short_values_are_never_remembered() -> None:
    assert remember_secret("1234567") is None
    assert redact("id 1234567") == "id 1234567"


def _record(msg: str, *args: object, exc: BaseException | None = None) -> logging.LogRecord:
    exc_info = (type(exc), exc, exc.__traceback__) if exc is not None else None
    return logging.LogRecord("dxapi", logging.INFO, __file__, 1, msg, args, exc_info)


def test_the_filter_rewrites_the_message_and_keeps_the_record() -> None:
    record = _record("sent %s", {"Authorization": "Bearer abc123"})
    assert RedactFilter().filter(record) is True
    assert record.getMessage() == f"sent {{'Authorization': 'Bearer {REDACTED}'}}"
    clean = _record("took %d ms", 12)
    RedactFilter().filter(clean)
    assert (clean.msg, clean.args) == ("took %d ms", (12,))  # untouched when nothing to hide


def test_the_filter_rewrites_an_exception_text_that_carries_a_credential() -> None:
    try:
        raise RuntimeError("proxy echoed Bearer abc123")
    except RuntimeError as exc:
        record = _record("failed", exc=exc)
    RedactFilter().filter(record)
    assert record.exc_text is not None
    assert "abc123" not in record.exc_text and REDACTED in record.exc_text
    assert "abc123" not in logging.Formatter().format(record)


def test_a_broken_format_string_is_left_to_the_handler() -> None:
    record = _record("%d items", "not a number")
    assert RedactFilter().filter(record) is True
    assert record.msg == "%d items"
