"""A seeded soak: many concurrent uploads of mixed modes and sizes under random faults."""

from __future__ import annotations

import pytest

from benchmarks.faults import FAIL, SURVIVE, run_soak


@pytest.mark.parametrize("seed", [0, 1])
def test_soak_under_random_faults_publishes_whole_files_or_fails_cleanly(seed, tmp_path):
    summary = run_soak(tmp_path, seed=seed, uploads=60, batch=6)
    outcomes = summary["outcomes"]

    assert summary["violations"] == []
    assert summary["faults_injected"] > 0
    assert summary["survived"] + summary["failed_cleanly"] == summary["uploads"] == len(outcomes)
    assert {o.result for o in outcomes} <= {SURVIVE, FAIL}
    # Retryable faults are survived: only the rare final refusals (400s) may fail.
    assert summary["survived"] >= 0.8 * summary["uploads"]
    assert all("400" in o.error for o in outcomes if o.result == FAIL)
    assert summary["bytes_verified"] == sum(
        o.bytes_verified for o in outcomes if o.result == SURVIVE
    )
    assert summary["bytes_verified"] <= summary["bytes_written"]
    assert summary["orphans"] == 0
    assert summary["temp_files_left"] == 0
    assert summary["wall_seconds"] < 20
