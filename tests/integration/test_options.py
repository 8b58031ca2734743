"""Options are checked: a misspelt one is refused naming the closest valid one, a bad
value names its option, and config objects take their dict and string forms."""

from __future__ import annotations

import fsspec
import pytest

from atai_fs import (
    ATAIFileSystem,
    ConfigurationError,
    FlowFileSystem,
    RetryPolicy,
    SandboxFileSystem,
    Timeouts,
    TransferConfig,
)
from tests.conftest import download, make_fs


def test_a_misspelt_storage_option_is_refused_with_the_closest_name(emulator):
    with pytest.raises(ConfigurationError, match="did you mean 'max_concurrency'"):
        make_fs(emulator, max_concurency=4)


def test_a_wrong_endpoint_option_never_falls_back_to_the_public_service(emulator):
    # A misspelt endpoint would otherwise send the key to the production URL.
    with pytest.raises(ConfigurationError, match="did you mean 'endpoint_url'"):
        fsspec.filesystem(
            "atai",
            api_key=emulator.api_key,
            endpoint=emulator.endpoint_url,
            skip_instance_cache=True,
        )


def test_a_misspelt_per_call_option_is_refused(fs):
    with pytest.raises(ConfigurationError, match="did you mean 'file_type'"):
        fs.open("x.csv", "wb", file_tpye="text/csv")
    with pytest.raises(ConfigurationError, match="did you mean 'file_type'"):
        fs.pipe_file("x.csv", b"a,b\n", file_tpye="text/csv")


def test_a_bad_value_names_its_option(emulator):
    with pytest.raises(ConfigurationError, match=r"max_concurrency.*'lots'"):
        make_fs(emulator, max_concurrency="lots")
    with pytest.raises(ConfigurationError, match="verify_etag must be true, false or auto"):
        make_fs(emulator, verify_etag="maybe")


@pytest.mark.parametrize(
    "transfer",
    [
        TransferConfig(max_concurrency=3, chunk_size=4096),
        {"max_concurrency": 3, "chunk_size": "4KiB"},
        "max_concurrency=3,chunk_size=4096",
    ],
    ids=["object", "dict", "string"],
)
def test_the_transfer_config_is_taken_whole_in_any_form(emulator, transfer):
    fs = make_fs(emulator, transfer=transfer)
    assert (fs.transfer.max_concurrency, fs.transfer.chunk_size) == (3, 4096)
    fs.pipe_file("whole.bin", b"x" * 100)
    assert download(emulator, "whole.bin") == b"x" * 100


def test_single_options_override_the_transfer_config(emulator):
    fs = make_fs(emulator, transfer={"max_concurrency": 3}, max_concurrency=5)
    assert fs.transfer.max_concurrency == 5


@pytest.mark.parametrize(
    "retry", [RetryPolicy(attempts=2), {"attempts": 2}, "attempts=2", '{"attempts": 2}']
)
def test_the_retry_policy_takes_its_forms(emulator, retry):
    assert make_fs(emulator, retry=retry).retry.attempts == 2


def test_a_misspelt_field_of_a_config_object_is_refused(emulator):
    with pytest.raises(ConfigurationError, match="did you mean 'attempts'"):
        make_fs(emulator, retry={"atempts": 2})


def test_timeouts_take_one_number_for_every_phase(emulator):
    fs = make_fs(emulator, timeouts=30)
    assert fs.http.timeouts == Timeouts(connect=30, api=30, read=30)


def test_per_call_engine_options_apply_to_that_call_only(fs, emulator):
    fs.pipe_file("once.bin", b"y" * 10, retry={"attempts": 1}, verify_etag=False)
    assert download(emulator, "once.bin") == b"y" * 10
    assert fs.retry.attempts == RetryPolicy().attempts


def test_a_protocol_without_keys_refuses_one():
    with pytest.raises(ConfigurationError, match="takes no api_key"):
        FlowFileSystem(api_key="k", skip_instance_cache=True)


def test_every_protocol_refuses_unknown_options():
    with pytest.raises(ConfigurationError, match="did you mean 'conflict'"):
        SandboxFileSystem(api_key="k", conflcit="merge", skip_instance_cache=True)
    with pytest.raises(ConfigurationError, match="unknown option 'colour'"):
        ATAIFileSystem(api_key="k", colour="blue", skip_instance_cache=True)


def test_a_filesystem_with_config_objects_round_trips_through_json(emulator):
    fs = make_fs(emulator, retry=RetryPolicy(attempts=3), transfer=TransferConfig(chunk_size=4096))
    again = fsspec.AbstractFileSystem.from_json(fs.to_json())
    assert (again.retry.attempts, again.transfer.chunk_size) == (3, 4096)
    again.pipe_file("json.bin", b"round trip")
    assert download(emulator, "json.bin") == b"round trip"
    assert emulator.api_key not in fs.to_json(include_password=False)
