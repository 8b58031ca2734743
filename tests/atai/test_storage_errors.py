"""The storage's refusals in S3's own words: expired URLs and credentials are refreshed,
a refused signature gets one fresh URL, and S3's XML error bodies reach the message."""

from __future__ import annotations

import os

import pytest

from atai_fs import AuthError, RequestFailed, RetryPolicy
from tests.conftest import download, make_fs
from tests.sizes import PART_SIZE


def s3_error(code: str, message: str) -> str:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f"<Error><Code>{code}</Code><Message>{message}</Message>"
        "<RequestId>4442587FB7D0A2F9</RequestId></Error>"
    )


EXPIRED = {
    "S3's ExpiredToken": (400, s3_error("ExpiredToken", "The provided token has expired.")),
    "TokenExpired": (400, s3_error("TokenExpired", "The provided token has expired.")),
    "AccessDenied, expired": (403, s3_error("AccessDenied", "Request has expired")),
}


@pytest.mark.parametrize("status,body", EXPIRED.values(), ids=EXPIRED.keys())
def test_an_expired_url_or_token_is_refreshed_and_the_part_resent(emulator, status, body):
    data = os.urandom(3 * PART_SIZE)
    emulator.faults.add(route="storage_put", status=status, body=body, times=1)
    make_fs(emulator).pipe_file("expired.bin", data)
    assert download(emulator, "expired.bin") == data
    assert emulator.stats.requests_by_route["parts_urls"] == 1


def test_a_refused_signature_gets_one_fresh_url(emulator):
    data = os.urandom(2 * PART_SIZE)
    body = s3_error("SignatureDoesNotMatch", "The request signature we calculated does not match")
    emulator.faults.add(route="storage_put", status=403, body=body, times=1)
    make_fs(emulator).pipe_file("signed.bin", data)
    assert download(emulator, "signed.bin") == data


def test_a_signature_refused_again_fails_clearly_after_one_refresh(emulator):
    body = s3_error("SignatureDoesNotMatch", "The request signature we calculated does not match")
    emulator.faults.add(route="storage_put", status=403, body=body)
    fs = make_fs(emulator, retry=RetryPolicy(attempts=6, base_delay=0))
    with pytest.raises(AuthError, match="SignatureDoesNotMatch") as caught:
        fs.pipe_file("never.bin", os.urandom(PART_SIZE + 1))
    assert not caught.value.retryable
    assert emulator.stats.requests_by_route["parts_urls"] <= 2  # one per part at most
    assert emulator.orphans() == []


def test_the_storage_s_xml_error_is_what_the_user_reads(emulator):
    body = s3_error("InternalError", "We encountered an internal error. Please try again.")
    emulator.faults.add(route="storage_put", status=500, body=body)
    fs = make_fs(emulator, retry=RetryPolicy(attempts=2, base_delay=0))
    with pytest.raises(RequestFailed) as caught:
        fs.pipe_file("broken.bin", os.urandom(PART_SIZE + 1))
    assert "InternalError: We encountered an internal error" in str(caught.value)
    assert "<Error>" not in str(caught.value)
