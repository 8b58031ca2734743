"""Every fault kind against every write mode (and reads): published whole, or not at all.

The cases come from :func:`benchmarks.faults.fault_matrix`, which also produces the
README's figures; each runs on its own emulator and is checked by
:func:`benchmarks.faults.run_case` (stored bytes, a clean error, no orphan, no spool file)
and for the outcome the case requires (transient faults survived, permanent ones fail).
"""

from __future__ import annotations

import pytest

from atai_fs.emulator.atai.faults import ACTION_ROUTES
from benchmarks.faults import FAIL, SURVIVE, WRITE_MODES, WRITE_ROUTES, Case, fault_matrix, run_case

CASES = fault_matrix()
PROFILED = [
    pytest.param(profile, case, id=f"{profile}-{case.id}")
    for profile in ("default", "strict")
    for case in CASES
    # Strict ETag checking is for storage known to answer MD5s; against opaque ones it
    # must fail every upload (tests/engine), which is what "auto" exists for.
    if not (profile == "strict" and ("verify_etag", True) in case.client_options)
]


@pytest.mark.parametrize("profile, case", PROFILED)
def test_fault_ends_published_whole_or_not_at_all(profile: str, case: Case, tmp_path):
    """In both profiles: the strict one adds opaque ETags, no Range, redirected downloads,
    30 s URLs and the documented rate limits with 429s lacking Retry-After."""
    outcome = run_case(case, tmp_path, profile=profile)
    assert outcome.problems(case) == [], outcome.error


def test_matrix_covers_every_fault_action_and_route_of_each_mode():
    actions = {case.fault.action for case in CASES}
    assert actions == set(ACTION_ROUTES)
    for mode in WRITE_MODES:
        routes = {case.fault.route for case in CASES if case.mode == mode}
        assert routes == set(WRITE_ROUTES[mode])


def test_matrix_expects_both_outcomes_for_every_mode():
    for mode in {case.mode for case in CASES}:
        expected = {case.expect for case in CASES if case.mode == mode}
        assert expected == {SURVIVE, FAIL}, mode
