"""Keep tokens out of text: a ``redact()`` function and a logging filter built on it.

dxapi never formats request headers into a message, so this is a safety net, not the
mechanism: it catches ``Bearer …`` strings and the exact tokens of live sessions wherever they
turn up (an exception text from a lower library, a caller's own log line on the ``dxapi``
logger).
"""

from __future__ import annotations

import logging
import re
import weakref

__all__ = ["REDACTED", "RedactFilter", "redact", "remember_secret"]

REDACTED = "[redacted]"
#: Shorter strings are not remembered: replacing them would garble ordinary text.
MIN_SECRET_LENGTH = 8

_BEARER = re.compile(r"(?i)\b(bearer)(\s+|%20|\+)[^\s'\",;]+")
_secrets: weakref.WeakValueDictionary[str, _Secret] = weakref.WeakValueDictionary()


class _Secret(str):
    """A str that can be weakly referenced, so a dropped client's token is forgotten."""


def remember_secret(value: str) -> object:
    """Redact ``value`` from now on; keep the returned handle alive as long as it matters."""
    if len(value) < MIN_SECRET_LENGTH:
        return None
    handle = _secrets.get(value)
    if handle is None:
        handle = _secrets[value] = _Secret(value)
    return handle


def redact(text: str) -> str:
    """``text`` with ``Bearer …`` credentials and remembered tokens replaced by ``[redacted]``."""
    text = _BEARER.sub(lambda m: f"{m.group(1)}{m.group(2)}{REDACTED}", text)
    for secret in list(_secrets.keys()):
        if secret in text:
            text = text.replace(secret, REDACTED)
    return text


class RedactFilter(logging.Filter):
    """Rewrite a record's message (and exception text) when it carries a credential."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string is the handler's problem, not ours
            return True
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_info and record.exc_info[1] is not None:
            shown = f"{record.exc_info[1]!s} {record.exc_info[1]!r}"
            if redact(shown) != shown:
                record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
        return True
