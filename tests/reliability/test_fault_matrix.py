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


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_fault_ends_published_whole_or_not_at_all(case: Case, tmp_path):
    outcome = run_case(case, tmp_path)
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
