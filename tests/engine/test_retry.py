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
    )  # Retry-After 2 s is within the deadline: honoured
    failures = [RequestFailed("503", status=503, retryable=True, retry_after=2.0)] * 100
    start = clock.now
    with pytest.raises(RequestFailed):
        run(policy, list(failures))
    assert clock.now - start <= 10.0
    assert clock.slept and all(wait >= 2.0 for wait in clock.slept)  # Retry-After honoured


def virtual_policy(**fields):
    from .fakes import FakeClock

    clock = FakeClock()
    return clock, RetryPolicy(clock=clock, sleep=clock.sleep, **fields)


def test_a_minute_long_outage_is_waited_out():
    clock, policy = virtual_policy()

    async def operation():
        if clock.now - start < 60:
            raise RequestFailed("503 outage", status=503, retryable=True)
        return "done"

    start = clock.now
    assert asyncio.run(policy.run(operation, what="part 3")) == "done"
    assert clock.now - start <= 60 + policy.max_delay


def test_patience_is_spent_in_time_and_the_error_says_how_much():
    clock, policy = virtual_policy(deadline=300)
    failures = [RequestFailed("503", status=503, retryable=True)] * 10_000
    with pytest.raises(RequestFailed, match=r"gave up after \d+ tries over") as caught:
        run(policy, list(failures))
    assert sum(clock.slept) <= 300
    assert not caught.value.retryable


def test_a_wait_beyond_the_deadline_fails_at_once_naming_it():
    from atai_fs import RateLimited

    clock, policy = virtual_policy(deadline=300)
    hourly = RateLimited("429: 100 files per hour", status=429, retryable=True, retry_after=3600)
    with pytest.raises(RateLimited, match="retry after 60 minutes"):
        run(policy, [hourly])
    assert clock.slept == []
