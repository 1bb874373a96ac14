"""The retry policy is pure: outcome in, delay (or stop) out."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from email.utils import format_datetime

import pytest

from dxapi import RetryPolicy
from dxapi._retry import Verdict, parse_retry_after

RNG = random.Random(7)


def test_retry_after_seconds_and_http_date() -> None:
    assert parse_retry_after("3", now=0) == 3.0
    assert parse_retry_after(" 1.5 ", now=0) == 1.5
    assert parse_retry_after("-4", now=0) == 0.0
    now = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
    later = format_datetime(datetime(2026, 1, 1, 12, 0, 30, tzinfo=UTC), usegmt=True)
    assert parse_retry_after(later, now=now.timestamp()) == pytest.approx(30.0)
    assert parse_retry_after("soon", now=0) is None
    assert parse_retry_after("nan", now=0) is None
    assert parse_retry_after(None, now=0) is None


def test_429_waits_at_least_retry_after_for_any_method() -> None:
    policy = RetryPolicy()
    for idempotent in (True, False):
        delay = policy.decide(1, Verdict("rate_limited", 2.0), idempotent=idempotent, rng=RNG)
        assert delay is not None and 2.0 <= delay <= 2.5


def test_retry_after_beyond_the_cap_stops_at_once() -> None:
    policy = RetryPolicy(max_retry_after=60)
    assert policy.decide(1, Verdict("rate_limited", 61.0), idempotent=True, rng=RNG) is None


def test_backoff_is_full_jitter_and_capped() -> None:
    policy = RetryPolicy(backoff=0.5, max_backoff=4.0, max_retries=10)
    rng = random.Random(1)
    for attempt in range(1, 10):
        delays = [policy.jittered(attempt, rng) for _ in range(200)]
        cap = min(4.0, 0.5 * 2 ** (attempt - 1))
        assert min(delays) >= 0 and max(delays) <= cap
        assert max(delays) > cap * 0.8  # it spreads over the whole range


@pytest.mark.parametrize(
    ("kind", "idempotent", "retried"),
    [
        ("status", True, True),
        ("status", False, False),
        ("sent", True, True),
        ("sent", False, False),
        ("not_sent", False, True),
    ],
)
def test_only_safe_outcomes_are_retried(kind: str, idempotent: bool, retried: bool) -> None:
    delay = RetryPolicy().decide(1, Verdict(kind), idempotent=idempotent, rng=RNG)  # type: ignore[arg-type]
    assert (delay is not None) is retried


def test_retries_are_counted_across_causes() -> None:
    policy = RetryPolicy(max_retries=2)
    assert policy.decide(2, Verdict("not_sent"), idempotent=True, rng=RNG) is not None
    assert policy.decide(3, Verdict("rate_limited", 0.0), idempotent=True, rng=RNG) is None
