"""The API key and URL signatures never reach logs, exception messages or reprs."""

from __future__ import annotations

import logging
import os
import re

import pytest

from atai_fs import ATAIFileSystem, AtaiFsError, RetryPolicy
from atai_fs.emulator import ATAIEmulator
from tests.conftest import PART_SIZE

SECRET_KEY = "sk-atai-very-secret-0123456789"
SIGNATURE = re.compile(r"X-Amz-Signature=(?!\*\*\*)[0-9a-fA-F]+")


@pytest.fixture
def secret_emulator(tmp_path):
    with ATAIEmulator(data_dir=tmp_path, api_key=SECRET_KEY, part_size=PART_SIZE) as emu:
        yield emu


def test_full_upload_and_download_logs_carry_no_secrets(secret_emulator, caplog, tmp_path):
    emulator = secret_emulator
    caplog.set_level(logging.DEBUG)
    fs = ATAIFileSystem(
        api_key=SECRET_KEY,
        endpoint_url=emulator.endpoint_url,
        retry=RetryPolicy(attempts=3, base_delay=0),
        skip_instance_cache=True,
    )
    # Faults make the client log retries and refreshes, where URLs are most tempting.
    emulator.faults.add(route="storage_put", status=503, times=2)
    emulator.faults.add(route="storage_put", action="expire_url", times=1)
    data = os.urandom(6 * PART_SIZE)
    fs.pipe_file("secret/report.bin", data)
    with fs.open("secret/stream.bin", "wb") as f:
        f.write(data)
    fs.get_file("atai://secret/report.bin", str(tmp_path / "copy.bin"))
    fs.ls("atai://secret/")
    text = "\n".join(record.getMessage() for record in caplog.records)
    assert "PUT" in text  # the debug log did record the traffic...
    assert SECRET_KEY not in text  # ...but never the key
    assert not SIGNATURE.search(text)  # ...nor a signature


def test_error_messages_and_reprs_carry_no_secrets(secret_emulator):
    emulator = secret_emulator
    fs = ATAIFileSystem(
        api_key=SECRET_KEY,
        endpoint_url=emulator.endpoint_url,
        retry=RetryPolicy(attempts=1),
        skip_instance_cache=True,
    )
    emulator.faults.add(route="storage_put", status=403, body="denied " + SECRET_KEY)
    with pytest.raises(AtaiFsError) as info:
        fs.pipe_file("x.bin", b"data")
    for text in (str(info.value), repr(info.value), repr(fs), repr(fs.http), str(fs.api)):
        assert SECRET_KEY not in text
        assert not SIGNATURE.search(text)


def test_storage_urls_never_get_the_key(secret_emulator):
    # The emulator's storage answers 400 to any PUT or GET carrying an Authorization
    # header, so a successful round trip proves the key stayed with the API.
    emulator = secret_emulator
    fs = ATAIFileSystem(
        api_key=SECRET_KEY, endpoint_url=emulator.endpoint_url, skip_instance_cache=True
    )
    fs.pipe_file("x.bin", os.urandom(3 * PART_SIZE))
    assert emulator.stats.requests_by_route["storage_put"] == 3


def test_plain_http_is_refused_for_non_loopback_hosts():
    with pytest.raises(ValueError, match="unencrypted"):
        ATAIFileSystem(api_key="k", endpoint_url="http://api.example.com/v0.5")
    fs = ATAIFileSystem(
        api_key="k", endpoint_url="http://api.example.com/v0.5", allow_http=True,
        skip_instance_cache=True,
    )  # fmt: skip
    assert fs.endpoint_url == "http://api.example.com/v0.5"
    assert fs.http.verify_tls
