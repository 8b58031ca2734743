"""Direct-to-cloud upload control plane: spec sections 4.8, 4.10-4.13, 5 and 10.1-10.14."""

from __future__ import annotations

import os
import re

import pytest

from tests.sizes import PART_SIZE as PART

EXPIRES_AT = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


@pytest.mark.parametrize("base", [0, 1])
@pytest.mark.parametrize("size", [0, 1, PART - 1, PART, PART + 1, 3 * PART + 5])
async def test_direct_upload_round_trip(make_emulator, open_api, base, size):
    emulator = make_emulator(part_number_base=base)
    data = os.urandom(size)
    async with open_api(emulator) as api:
        init = await api.initiate("round.csv", size)
        done = await api.upload("round.csv", data)
        assert init["num_parts"] == max(1, -(-size // PART))
        assert [p["part_number"] for p in init["parts"]] == list(
            range(base, base + init["num_parts"])
        )
        assert done["file_name"] == "round.csv"
        assert done["num_bytes"] == size
        assert done["file_status"] == "Registered"
        assert done["file_attributes"] == {"metadata_status": "not_extracted"}
        assert await api.download("round.csv") == data


async def test_initiate_plans_contiguous_parts_last_one_shorter(open_api):
    async with open_api() as api:
        init = await api.initiate("plan.csv", 2 * PART + 10)
    assert init["part_size"] == PART
    assert init["total_bytes"] == 2 * PART + 10
    assert init["is_resume"] is False
    assert init["integrity_algorithm"] == "none"
    assert [(p["offset"], p["length"]) for p in init["parts"]] == [
        (0, PART),
        (PART, PART),
        (2 * PART, 10),
    ]
    assert all(EXPIRES_AT.match(p["expires_at"]) for p in init["parts"])
    assert init["upload_id"].startswith("upl_")


async def test_empty_file_has_one_empty_part(open_api):
    async with open_api() as api:
        init = await api.initiate("empty.csv", 0)
    assert init["num_parts"] == 1
    assert [(p["offset"], p["length"]) for p in init["parts"]] == [(0, 0)]


async def test_initiate_reports_missing_and_invalid_fields_together(open_api):
    async with open_api() as api:
        status, body = await api.call(
            "POST", "files/uploads/initiate", json={"file_type": "csv", "num_bytes": "12"}
        )
    assert status == 400
    assert api.codes(body) == ["missing_parameter", "invalid_file_type", "invalid_parameter"]
    assert all(e["error_uid"].startswith("err-") for e in body["errors"])


async def test_initiate_over_max_file_size_is_invalid_file_size(make_emulator, open_api):
    emulator = make_emulator(max_file_size=1000)
    async with open_api(emulator) as api:
        body = {"filename": "big.csv", "file_type": "text/csv", "num_bytes": 1001}
        status, err = await api.call("POST", "files/uploads/initiate", json=body)
    assert status == 400
    assert api.codes(err) == ["invalid_file_size"]


async def test_huge_files_get_bigger_parts_not_more_than_10000(open_api):
    async with open_api() as api:
        init = await api.initiate("huge.bin", 250 * 10**9, "application/octet-stream")
    assert init["num_parts"] <= 10_000
    assert init["part_size"] % (1024 * 1024) == 0
    assert init["num_parts"] == len(init["parts"])


async def test_resume_returns_same_upload_and_only_parts_not_checkpointed(emulator, open_api):
    data = os.urandom(3 * PART)
    async with open_api() as api:
        first = await api.initiate("resume.csv", len(data))
        upload_id = first["upload_id"]
        done = await api.put_part(first["parts"][0], data)
        ack = await api.ok(
            "POST", f"files/uploads/{upload_id}/parts/checkpoint", json={"parts": [done]}
        )
        assert ack == {"num_checkpointed": 1}
        await api.put_part(first["parts"][1], data)  # PUT but never checkpointed

        again = await api.initiate("resume.csv", len(data), resume_if_started=True)
        assert again["is_resume"] is True
        assert again["upload_id"] == upload_id
        assert again["file_uid"] == first["file_uid"]
        assert (again["num_parts"], again["total_bytes"]) == (3, len(data))
        assert [p["part_number"] for p in again["parts"]] == [2, 3]

        tokens = [await api.put_part(p, data) for p in again["parts"]]
        status, body = await api.complete(upload_id, tokens)
        assert status == 200, body
        assert await api.download("resume.csv") == data
    assert emulator.uploads[upload_id].state == "completed"


async def test_resume_with_different_size_or_type_is_409(open_api):
    async with open_api() as api:
        await api.initiate("clash.csv", 100)
        for file_type, size in [("text/csv", 101), ("text/plain", 100)]:
            body = {
                "filename": "clash.csv",
                "file_type": file_type,
                "num_bytes": size,
                "resume_if_started": True,
            }
            status, err = await api.call("POST", "files/uploads/initiate", json=body)
            assert status == 409
            assert api.codes(err) == ["upload_mismatch"]


async def test_resume_without_upload_in_progress_starts_fresh(open_api):
    async with open_api() as api:
        init = await api.initiate("fresh.csv", 10, resume_if_started=True)
    assert init["is_resume"] is False
    assert len(init["parts"]) == 1


async def test_initiate_without_resume_starts_an_independent_upload(emulator, open_api):
    async with open_api() as api:
        a = await api.initiate("twice.csv", 10)
        b = await api.initiate("twice.csv", 10)
    assert a["upload_id"] != b["upload_id"]
    assert emulator.uploads[a["upload_id"]].state == "in_progress"


async def test_complete_with_missing_parts_is_400_and_upload_stays_in_progress(emulator, open_api):
    data = os.urandom(2 * PART)
    async with open_api() as api:
        init = await api.initiate("gap.csv", len(data))
        token = await api.put_part(init["parts"][0], data)
        status, body = await api.complete(init["upload_id"], [token])
        assert status == 400
        assert api.codes(body) == ["missing_parts"]
        assert emulator.uploads[init["upload_id"]].state == "in_progress"
        # ...and can still be finished.
        rest = await api.put_part(init["parts"][1], data)
        status, _ = await api.complete(init["upload_id"], [token, rest])
        assert status == 200


async def test_complete_with_wrong_token_is_400(open_api):
    data = os.urandom(10)
    async with open_api() as api:
        init = await api.initiate("token.csv", 10)
        token = await api.put_part(init["parts"][0], data)
        unquoted = {**token, "part_token": token["part_token"].strip('"')}
        status, body = await api.complete(init["upload_id"], [unquoted])
    assert status == 400
    assert api.codes(body) == ["invalid_part_token"]


async def test_complete_of_part_never_put_is_400(open_api):
    async with open_api() as api:
        init = await api.initiate("never.csv", 10)
        part = {"part_number": 1, "part_token": '"d41d8cd98f00b204e9800998ecf8427e"'}
        status, body = await api.complete(init["upload_id"], [part])
    assert status == 400
    assert api.codes(body) == ["invalid_part_token"]


async def test_checkpoint_with_wrong_token_is_400_and_stores_nothing(emulator, open_api):
    data = os.urandom(2 * PART)
    async with open_api() as api:
        init = await api.initiate("cp.csv", len(data))
        good = await api.put_part(init["parts"][0], data)
        bad = {"part_number": 2, "part_token": '"0"'}
        status, body = await api.call(
            "POST",
            f"files/uploads/{init['upload_id']}/parts/checkpoint",
            json={"parts": [good, bad]},
        )
    assert status == 400
    assert api.codes(body) == ["invalid_part_token"]
    assert emulator.uploads[init["upload_id"]].checkpointed_parts == ()


async def test_recheckpointing_counts_only_changed_tokens(open_api):
    data = os.urandom(PART)
    async with open_api() as api:
        init = await api.initiate("again.csv", len(data))
        path = f"files/uploads/{init['upload_id']}/parts/checkpoint"
        token = await api.put_part(init["parts"][0], data)
        assert await api.ok("POST", path, json={"parts": [token]}) == {"num_checkpointed": 1}
        assert await api.ok("POST", path, json={"parts": [token]}) == {"num_checkpointed": 0}


async def test_complete_accepts_checkpointed_parts_and_an_empty_list(open_api):
    data = os.urandom(2 * PART)
    async with open_api() as api:
        init = await api.initiate("cp-all.csv", len(data))
        tokens = [await api.put_part(p, data) for p in init["parts"]]
        path = f"files/uploads/{init['upload_id']}/parts/checkpoint"
        await api.ok("POST", path, json={"parts": tokens})
        status, _ = await api.complete(init["upload_id"], [])
        assert status == 200
        assert await api.download("cp-all.csv") == data


async def test_complete_duplicate_or_out_of_range_part_is_invalid_part_number(open_api):
    async with open_api() as api:
        init = await api.initiate("dup.csv", 10)
        token = await api.put_part(init["parts"][0], os.urandom(10))
        for parts in ([token, token], [{**token, "part_number": 2}], [{**token, "part_number": 0}]):
            status, body = await api.complete(init["upload_id"], parts)
            assert status == 400
            assert api.codes(body) == ["invalid_part_number"]


async def test_complete_twice_is_409(open_api):
    data = os.urandom(10)
    async with open_api() as api:
        init = await api.initiate("twice.csv", 10)
        token = await api.put_part(init["parts"][0], data)
        assert (await api.complete(init["upload_id"], [token]))[0] == 200
        status, body = await api.complete(init["upload_id"], [token])
        assert status == 409
        assert api.codes(body) == ["upload_already_completed"]
        abort = f"files/uploads/{init['upload_id']}/abort"
        assert (await api.call("POST", abort))[0] == 409


async def test_checkpoint_and_urls_after_complete_are_409(open_api):
    async with open_api() as api:
        init = await api.initiate("late.csv", 10)
        token = await api.put_part(init["parts"][0], os.urandom(10))
        await api.complete(init["upload_id"], [token])
        base = f"files/uploads/{init['upload_id']}"
        cp = await api.call("POST", f"{base}/parts/checkpoint", json={"parts": [token]})
        urls = await api.call("POST", f"{base}/parts/urls", json={"part_numbers": [1]})
    assert (cp[0], urls[0]) == (409, 409)


async def test_abort_answers_200_empty_and_then_every_call_is_404(emulator, open_api):
    async with open_api() as api:
        init = await api.initiate("gone.csv", 10)
        base = f"files/uploads/{init['upload_id']}"
        status, body = await api.call("POST", f"{base}/abort", json={})
        assert (status, body) == (200, b"")
        assert emulator.uploads[init["upload_id"]].state == "aborted"
        token = {"part_number": 1, "part_token": '"x"'}
        calls = [
            ("parts/urls", {"part_numbers": [1]}),
            ("parts/checkpoint", {"parts": [token]}),
            ("complete", {"parts": [token]}),
            ("abort", None),
        ]
        for path, body in calls:
            status, err = await api.call("POST", f"{base}/{path}", json=body)
            assert status == 404, path
            assert api.codes(err) == ["upload_not_found"]
        # Its presigned URLs are dead too.
        r = await api.put(init["parts"][0]["url"], os.urandom(10))
        assert r.status == 404


async def test_abort_accepts_a_request_without_body(open_api):
    async with open_api() as api:
        init = await api.initiate("nobody.csv", 10)
        status, _ = await api.call("POST", f"files/uploads/{init['upload_id']}/abort")
    assert status == 200


async def test_unknown_upload_id_is_404(open_api):
    async with open_api() as api:
        status, body = await api.call("POST", "files/uploads/upl_nope/complete", json={"parts": []})
    assert status == 404
    assert api.codes(body) == ["upload_not_found"]


async def test_parts_urls_returns_fresh_descriptors_in_request_order(open_api):
    data = os.urandom(3 * PART)
    async with open_api() as api:
        init = await api.initiate("urls.csv", len(data))
        body = await api.ok(
            "POST",
            f"files/uploads/{init['upload_id']}/parts/urls",
            json={"part_numbers": [3, 1, 3]},
        )
        parts = body["parts"]
        assert [p["part_number"] for p in parts] == [3, 1, 3]
        assert parts[0]["url"] == parts[2]["url"]
        assert (parts[0]["offset"], parts[0]["length"]) == (2 * PART, PART)
        assert await api.put_part(parts[1], data)  # the new URL works


async def test_parts_urls_rejects_out_of_range_part_number(open_api):
    async with open_api() as api:
        init = await api.initiate("range.csv", 10)
        status, body = await api.call(
            "POST", f"files/uploads/{init['upload_id']}/parts/urls", json={"part_numbers": [5]}
        )
    assert status == 400
    assert api.codes(body) == ["invalid_part_number"]


async def test_completing_a_name_overwrites_the_existing_file(emulator, open_api):
    async with open_api() as api:
        first = await api.upload("same.csv", b"old contents")
        second = await api.upload("same.csv", b"new")
        assert await api.download("same.csv") == b"new"
        listing = await api.ok("GET", "files/metadata")
    assert first["file_uid"] != second["file_uid"]
    assert [(m["file_id"], m["file_uid"]) for m in listing] == [("same.csv", second["file_uid"])]
    assert len(list((emulator.data_dir / "blobs").iterdir())) == 1


async def test_checksum_sent_when_algorithm_is_none_is_400(open_api):
    async with open_api() as api:
        init = await api.initiate("sum.csv", 9)
        token = await api.put_part(init["parts"][0], b"123456789")
        status, body = await api.complete(init["upload_id"], [token], integrity_checksum="4waSgw==")
    assert status == 400
    assert api.codes(body) == ["invalid_parameter"]
