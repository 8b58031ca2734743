"""The engine follows the server's part plan, and refuses one that cannot be right."""

from __future__ import annotations

import pytest

from atai_fs import ProtocolError
from atai_fs.engine.plan import PartSpec, UploadPlan


def plan(parts, total, *, is_resume=False, num_parts=None):
    specs = [
        PartSpec(n, o, ln, url=f"https://storage/{n}?X-Amz-Signature=s3cr3tsig")
        for n, o, ln in parts
    ]
    return UploadPlan("upl", total, num_parts or len(specs), specs, is_resume=is_resume)


def test_contiguous_plan_is_accepted_whatever_the_numbering():
    plan([(1, 0, 4), (2, 4, 4), (3, 8, 2)], 10).check_against(10)
    plan([(0, 0, 4), (1, 4, 4), (2, 8, 2)], 10).check_against(10)
    plan([(7, 0, 0)], 0).check_against(0)


@pytest.mark.parametrize(
    ("parts", "total", "size", "message"),
    [
        ([(1, 0, 4), (2, 5, 5)], 10, 10, "gaps or overlaps"),
        ([(1, 0, 6), (2, 4, 6)], 10, 10, "gaps or overlaps"),
        ([(1, 0, 4)], 10, 10, "covers 4 of 10"),
        ([(1, 0, 12)], 12, 10, "planned an upload of 12 bytes"),
        ([(1, 0, 4), (1, 4, 6)], 10, 10, "listed twice"),
        ([(1, 0, 4), (2, 4, 8)], 10, 10, "outside the file"),
    ],
)
def test_incoherent_plans_are_refused(parts, total, size, message):
    with pytest.raises(ProtocolError, match=message):
        plan(parts, total).check_against(size)


def test_resumed_plan_lists_only_missing_parts():
    resumed = plan([(2, 4, 4)], 10, is_resume=True, num_parts=3)
    resumed.check_against(10)
    assert resumed.bytes_already_uploaded == 6


def test_part_repr_hides_the_signature():
    (part,) = plan([(1, 0, 4)], 4).parts
    assert "s3cr3tsig" not in repr(part)
    assert "X-Amz-Signature=***" in repr(part)
