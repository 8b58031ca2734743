"""Bad input gets a clear error, mapped to the builtin exception Python users expect."""

from __future__ import annotations

import pytest

from atai_fs import (
    ATAIFileSystem,
    AuthError,
    ConfigurationError,
    Conflict,
    FileTooLarge,
    InvalidRequest,
    NotFound,
    ProtocolError,
    RateLimited,
    RequestFailed,
    RetryPolicy,
)
from tests.conftest import download


def test_missing_api_key_fails_before_any_request(emulator, monkeypatch):
    monkeypatch.delenv("ATAI_API_KEY", raising=False)
    fs = ATAIFileSystem(endpoint_url=emulator.endpoint_url, skip_instance_cache=True)
    with pytest.raises(ConfigurationError, match="ATAI_API_KEY") as info:
        fs.pipe_file("x.txt", b"data")
    assert isinstance(info.value, ValueError)
    assert "api_key=" in str(info.value)
    assert emulator.stats.api_requests == 0


def test_api_key_falls_back_to_the_environment(atai_emulator):
    fs = ATAIFileSystem(skip_instance_cache=True)
    fs.pipe_file("env.txt", b"from env")
    assert download(atai_emulator, "env.txt") == b"from env"


@pytest.mark.parametrize("path", ["atai://", "", "atai://dir/", "dir/sub/"])
def test_opening_a_directory_name_for_writing_is_a_value_error(fs, emulator, path):
    with pytest.raises(ValueError, match="must not end with '/'"):
        fs.open(path, "wb")
    with pytest.raises(ValueError):
        fs.pipe_file(path, b"x")
    assert emulator.stats.api_requests == 0


@pytest.mark.parametrize(
    ("path", "fix"),
    [
        ("atai://x/../y.txt", "write to 'atai://y.txt'"),
        ("atai://./y.txt", "write to 'atai://y.txt'"),
        ("atai://a/./b/../c.txt", "write to 'atai://a/c.txt'"),
        ("atai://../escape.txt", "without '.' or '..' segments"),
        ("atai://d//e.txt", "write to 'atai://d/e.txt'"),
    ],
)
def test_dot_segments_are_refused_naming_the_resolved_name(fs, emulator, path, fix, tmp_path):
    """A store keeps '..' literally; writing 'x/../y.txt' must not create that odd name."""
    local = tmp_path / "local.txt"
    local.write_bytes(b"x")
    for write in (
        lambda: fs.open(path, "wb"),
        lambda: fs.pipe_file(path, b"x"),
        lambda: fs.put_file(str(local), path),
    ):
        with pytest.raises(InvalidRequest, match="segments are not resolved") as info:
            write()
        assert fix in str(info.value)
        assert isinstance(info.value, ValueError)
    assert emulator.stats.api_requests == 0
    assert fs.ls("", detail=False) == []


def test_unknown_option_lists_this_protocols_options_not_fsspecs():
    with pytest.raises(ConfigurationError, match="did you mean 'max_concurrency'") as info:
        ATAIFileSystem(api_key="k" * 20, max_concurency=4, skip_instance_cache=True)
    listed = str(info.value).split("valid options: ")[1]
    assert "max_concurrency" in listed and "progress" in listed
    for internal in ("loop", "asynchronous", "use_listings_cache", "max_paths"):
        assert internal not in listed.replace("list_page_size", "")
    ATAIFileSystem(api_key="k" * 20, use_listings_cache=False, skip_instance_cache=True)


def test_size_over_the_api_limit_fails_before_initiate(fs, emulator):
    with pytest.raises(FileTooLarge, match="250 GB") as info:
        fs.open("huge.bin", "wb", size=250 * 10**9 + 1)
    assert isinstance(info.value, ValueError)
    assert emulator.stats.api_requests == 0


@pytest.mark.parametrize("endpoint", ["ftp://example.com", "not a url", "http://example.com/v0.5"])
def test_bad_endpoint_url_is_refused(endpoint):
    with pytest.raises(ConfigurationError):
        ATAIFileSystem(api_key="k", endpoint_url=endpoint, skip_instance_cache=True)


def test_wrong_api_key_is_a_permission_error_without_the_key(emulator):
    fs = ATAIFileSystem(
        api_key="wrong-secret-key", endpoint_url=emulator.endpoint_url, skip_instance_cache=True
    )
    with pytest.raises(PermissionError) as info:
        fs.pipe_file("x.txt", b"data")
    assert isinstance(info.value, AuthError)
    assert info.value.status == 401
    assert "ATAI_API_KEY" in str(info.value)
    assert "wrong-secret-key" not in str(info.value)
    assert "wrong-secret-key" not in repr(info.value)


def test_unknown_upload_is_file_not_found(fs):
    with pytest.raises(FileNotFoundError) as info:
        fs._run_on_loop(fs.api.complete("upl_does_not_exist", {}))
    assert isinstance(info.value, NotFound)
    assert info.value.status == 404
    assert "upload_not_found" in str(info.value)


def test_resume_with_a_different_size_is_a_conflict(fs):
    fs._run_on_loop(fs.api.initiate("data.csv", "text/csv", 100))
    with pytest.raises(FileExistsError) as info:
        fs._run_on_loop(fs.api.initiate("data.csv", "text/csv", 200, resume_if_started=True))
    assert isinstance(info.value, Conflict)
    assert info.value.status == 409


def test_completing_twice_is_a_conflict(fs):
    plan = fs._run_on_loop(fs.api.initiate("empty.txt", "text/plain", 0))
    (part,) = plan.parts
    assert part.length == 0
    fs.pipe_file("other.txt", b"")  # the engine handles empty files; here we drive the API
    with pytest.raises(InvalidRequest):
        fs._run_on_loop(fs.api.complete(plan.upload_id, {part.number: '"bogus"'}))


@pytest.fixture
def impatient_fs(emulator):
    return ATAIFileSystem(
        api_key=emulator.api_key,
        endpoint_url=emulator.endpoint_url,
        retry=RetryPolicy(attempts=2, base_delay=0),
        skip_instance_cache=True,
    )


@pytest.mark.parametrize(
    ("status", "builtin", "cls"),
    [
        (401, PermissionError, AuthError),
        (403, PermissionError, AuthError),
        (404, FileNotFoundError, NotFound),
        (409, FileExistsError, Conflict),
        (413, ValueError, FileTooLarge),
        (429, OSError, RateLimited),
        (500, OSError, RequestFailed),
        (418, OSError, RequestFailed),
    ],
)
def test_server_statuses_map_to_builtin_exceptions(impatient_fs, emulator, status, builtin, cls):
    emulator.faults.add(route="initiate", status=status, times=5)
    with pytest.raises(builtin) as info:
        impatient_fs.pipe_file("x.bin", b"data")
    assert isinstance(info.value, cls)
    assert info.value.status == status
    message = str(info.value)
    assert f"HTTP {status}" in message
    assert "initiating the upload of atai://x.bin" in message
    assert emulator.api_key not in message


def test_error_names_the_code_and_message_from_the_envelope(impatient_fs, emulator):
    with pytest.raises(InvalidRequest) as info:
        impatient_fs._run_on_loop(impatient_fs.api.initiate("x.bin", "not a mime type", 5))
    assert info.value.status == 400
    assert info.value.code == "invalid_file_type"
    assert "invalid_file_type" in str(info.value)


def test_html_error_page_gives_a_clear_error(impatient_fs, emulator):
    page = "<html><body><h1>502 Bad Gateway</h1></body></html>"
    emulator.faults.add(route="initiate", status=502, body=page, times=5)
    with pytest.raises(RequestFailed, match=r"HTTP 502.*Bad Gateway"):
        impatient_fs.pipe_file("x.bin", b"data")


def test_non_json_success_is_a_protocol_error(impatient_fs, emulator):
    emulator.faults.add(route="initiate", action="malformed_json", times=5)
    with pytest.raises(ProtocolError, match="expected JSON"):
        impatient_fs.pipe_file("x.bin", b"data")
    assert not impatient_fs.exists("x.bin")


def test_transient_statuses_are_retried_transparently(fs, emulator):
    emulator.faults.add(route="initiate", status=503, retry_after="0", times=1)
    emulator.faults.add(route="storage_put", status=500, times=2)
    emulator.faults.add(route="complete", status=429, retry_after="0", times=1)
    fs.pipe_file("x.bin", b"survives")
    assert fs.cat_file("x.bin") == b"survives"
