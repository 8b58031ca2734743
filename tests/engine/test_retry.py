"""One retry policy: backoff with full jitter, Retry-After honoured, fail fast otherwise."""

from __future__ import annotations

import asyncio
import email.utils

import pytest

from atai_fs import InvalidRequest, RequestFailed, RetryPolicy
from atai_fs.engine.retry import parse_retry_after


def test_retry_after_in_seconds_and_as_http_date():
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after(" 0.5 ") == 0.5
    when = email.utils.formatdate(1_000_010, usegmt=True)
    assert parse_retry_after(when, now=1_000_000) == pytest.approx(10.0)
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None


def test_backoff_is_bounded_and_honours_retry_after():
    policy = RetryPolicy(base_delay=1.0, max_delay=4.0)
    for retry in range(1, 10):
        assert 0 <= policy.backoff(retry) <= min(4.0, 2 ** (retry - 1))
    assert policy.backoff(1, retry_after=7.0) >= 7.0
    assert RetryPolicy(max_retry_after=2.0).backoff(1, retry_after=600) <= 2.0


def run(policy, failures):
    calls = []

    async def operation():
        calls.append(1)
        if failures:
            raise failures.pop(0)
        return "done"

    return asyncio.run(policy.run(operation, what="test")), len(calls)


def test_transient_failures_are_retried_until_success():
    failures = [RequestFailed("503", status=503, retryable=True) for _ in range(3)]
    assert run(RetryPolicy(attempts=4, base_delay=0), failures) == ("done", 4)


def test_attempts_are_limited():
    failures = [RequestFailed("503", status=503, retryable=True) for _ in range(5)]
    with pytest.raises(RequestFailed):
        run(RetryPolicy(attempts=3, base_delay=0), failures)
    assert len(failures) == 2


def test_non_retryable_errors_fail_fast():
    failures = [InvalidRequest("400", status=400)]
    with pytest.raises(InvalidRequest):
        run(RetryPolicy(attempts=5, base_delay=0), failures)


def test_deadline_stops_retrying():
    failures = [RequestFailed("429", status=429, retryable=True, retry_after=5) for _ in range(3)]
    with pytest.raises(RequestFailed):
        run(RetryPolicy(attempts=10, deadline=1.0), failures)
    assert len(failures) == 2


def test_the_deadline_bounds_the_time_spent_on_a_virtual_clock():
    from .fakes import FakeClock

    clock = FakeClock()
    policy = RetryPolicy(
        attempts=1000, base_delay=1.0, max_delay=1.0, deadline=10.0, clock=clock, sleep=clock.sleep
    )
    failures = [RequestFailed("503", status=503, retryable=True, retry_after=2.0)] * 100
    start = clock.now
    with pytest.raises(RequestFailed):
        run(policy, list(failures))
    assert clock.now - start <= 10.0
    assert clock.slept and all(wait >= 2.0 for wait in clock.slept)  # Retry-After honoured
