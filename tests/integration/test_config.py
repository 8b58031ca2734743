"""Configuration the fsspec way: config files, ``FSSPEC_ATAI_*`` variables, instance cache.

fsspec merges ``fsspec.config.conf["atai"]`` (filled at import from the files in
``~/.config/fsspec/`` or ``$FSSPEC_CONFIG_DIR``, then from ``FSSPEC_ATAI`` and
``FSSPEC_ATAI_<OPTION>`` variables) under the explicit arguments of every
``ATAIFileSystem(...)``, ``fsspec.filesystem("atai")``, ``fsspec.open`` and
``url_to_fs`` call.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator

import fsspec
import fsspec.config
import pytest

from atai_fs import ATAIFileSystem, RetryPolicy
from atai_fs.http import Timeouts
from tests.conftest import download


@pytest.fixture(autouse=True)
def _fresh_instances() -> Iterator[None]:
    """Instances cached by other tests (or left by these) never leak in or out."""
    ATAIFileSystem.clear_instance_cache()
    yield
    ATAIFileSystem.clear_instance_cache()


@pytest.fixture
def atai_conf(monkeypatch) -> dict:
    """fsspec's live config section for ``atai``, restored after the test."""
    monkeypatch.setitem(fsspec.config.conf, "atai", {})
    return fsspec.config.conf["atai"]


def test_config_section_supplies_options(emulator, atai_conf):
    atai_conf.update(
        api_key=emulator.api_key, endpoint_url=emulator.endpoint_url, max_concurrency=3
    )
    fs = fsspec.filesystem("atai")
    assert fs.transfer.max_concurrency == 3
    fs.pipe_file("configured.bin", b"from the config")
    assert download(emulator, "configured.bin") == b"from the config"


def test_config_section_applies_to_urls(emulator, atai_conf):
    atai_conf.update(api_key=emulator.api_key, endpoint_url=emulator.endpoint_url)
    with fsspec.open("atai://by-url.bin", "wb") as f:
        f.write(b"no storage options")
    fs, path = fsspec.core.url_to_fs("atai://by-url.bin")
    assert (path, fs.cat_file(path)) == ("by-url.bin", b"no storage options")


def test_explicit_arguments_win_over_the_config(emulator, atai_conf):
    atai_conf.update(api_key="not-this-one", endpoint_url=emulator.endpoint_url)
    fs = fsspec.filesystem("atai", api_key=emulator.api_key)
    assert fs.api_key == emulator.api_key
    fs.pipe_file("explicit.bin", b"x")


def test_environment_variables_set_options(emulator, atai_conf):
    env = {
        "FSSPEC_ATAI_API_KEY": emulator.api_key,
        "FSSPEC_ATAI_ENDPOINT_URL": emulator.endpoint_url,
        "FSSPEC_ATAI_MAX_CONCURRENCY": "3",
        "FSSPEC_ATAI_VERIFY_ETAG": "false",
    }
    fsspec.config.set_conf_env(fsspec.config.conf, env)
    fs = fsspec.filesystem("atai")
    assert (fs.api_key, fs.transfer.max_concurrency, fs.transfer.verify_etag) == (
        emulator.api_key,
        3,
        False,
    )


def test_a_json_environment_variable_sets_structured_options(emulator, atai_conf):
    options = {
        "api_key": emulator.api_key,
        "endpoint_url": emulator.endpoint_url,
        "retry": {"attempts": 2, "deadline": 30},
        "timeouts": {"connect": 5, "api": 20, "read": 60},
        "rate_limit": "50/s",
    }
    fsspec.config.set_conf_env(fsspec.config.conf, {"FSSPEC_ATAI": json.dumps(options)})
    fs = fsspec.filesystem("atai")
    assert fs.transfer.retry == RetryPolicy(attempts=2, deadline=30)
    assert fs.http.timeouts == Timeouts(connect=5, api=20, read=60)
    fs.pipe_file("json-env.bin", b"x")


def test_ini_config_file_strings_become_typed_options(emulator, atai_conf, tmp_path):
    (tmp_path / "atai.ini").write_text(
        "[atai]\n"
        f"api_key = {emulator.api_key}\n"
        f"endpoint_url = {emulator.endpoint_url}\n"
        "max_concurrency = 3\n"
        "list_page_size = 500\n"
        "checkpoint_parts = 16\n"
        "verify_etag = false\n"
        "allow_http = no\n"
    )
    fsspec.config.set_conf_files(str(tmp_path), fsspec.config.conf)
    fs = fsspec.filesystem("atai")
    assert fs.transfer.max_concurrency == 3
    assert fs.list_page_size == 500
    assert fs.transfer.checkpoint_parts == 16
    assert fs.transfer.verify_etag is False
    fs.pipe_file("ini.bin", b"x")
    assert fs.ls("", detail=False) == ["ini.bin"]


def test_a_flag_that_is_not_a_boolean_is_refused(emulator, atai_conf):
    atai_conf.update(api_key=emulator.api_key, endpoint_url=emulator.endpoint_url)
    with pytest.raises(ValueError, match="verify_etag"):
        fsspec.filesystem("atai", verify_etag="maybe")


def test_json_config_file_sets_options(emulator, atai_conf, tmp_path):
    (tmp_path / "atai.json").write_text(
        json.dumps({"atai": {"api_key": emulator.api_key, "endpoint_url": emulator.endpoint_url}})
    )
    fsspec.config.set_conf_files(str(tmp_path), fsspec.config.conf)
    fsspec.filesystem("atai").pipe_file("json-file.bin", b"x")
    assert download(emulator, "json-file.bin") == b"x"


def test_a_fresh_process_reads_fsspec_variables_without_importing_atai_fs(emulator, tmp_path):
    script = (
        "import fsspec\n"
        "fs = fsspec.filesystem('atai')\n"
        "fs.pipe_file('fresh-process.bin', b'hello')\n"
        "print(fs.transfer.max_concurrency)\n"
    )
    env = {
        **os.environ,
        "FSSPEC_CONFIG_DIR": str(tmp_path),  # no config files of the user
        "FSSPEC_ATAI_API_KEY": emulator.api_key,
        "FSSPEC_ATAI_ENDPOINT_URL": emulator.endpoint_url,
        "FSSPEC_ATAI_MAX_CONCURRENCY": "2",
    }
    env.pop("ATAI_API_KEY", None)
    out = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "2"
    assert download(emulator, "fresh-process.bin") == b"hello"


# -- the instance cache ---------------------------------------------------------------


def test_same_options_give_the_same_instance(emulator):
    options = {"api_key": emulator.api_key, "endpoint_url": emulator.endpoint_url}
    assert fsspec.filesystem("atai", **options) is fsspec.filesystem("atai", **options)
    assert fsspec.filesystem("atai", **options) is ATAIFileSystem(**options)


def test_a_different_key_gives_a_different_instance(emulator):
    first = fsspec.filesystem("atai", api_key="key-1", endpoint_url=emulator.endpoint_url)
    second = fsspec.filesystem("atai", api_key="key-2", endpoint_url=emulator.endpoint_url)
    assert first is not second
    assert (first.api_key, second.api_key) == ("key-1", "key-2")


def test_skip_instance_cache_gives_a_new_instance(emulator):
    options = {"api_key": emulator.api_key, "endpoint_url": emulator.endpoint_url}
    cached = fsspec.filesystem("atai", **options)
    assert fsspec.filesystem("atai", skip_instance_cache=True, **options) is not cached


def test_config_values_are_part_of_the_cache_key(emulator, atai_conf):
    atai_conf.update(api_key="key-1", endpoint_url=emulator.endpoint_url)
    first = fsspec.filesystem("atai")
    atai_conf["api_key"] = "key-2"
    second = fsspec.filesystem("atai")
    assert first is not second
    assert second.api_key == "key-2"


def test_atai_variables_are_part_of_the_cache_key(emulator, monkeypatch):
    """A filesystem built from ``ATAI_API_KEY=key-1`` is not handed out after the
    environment says ``key-2`` (a test fixture swapping emulators relies on this)."""
    monkeypatch.setenv("ATAI_API_ENDPOINT", emulator.endpoint_url)
    monkeypatch.setenv("ATAI_API_KEY", "key-1")
    first = fsspec.filesystem("atai")
    assert fsspec.filesystem("atai") is first
    monkeypatch.setenv("ATAI_API_KEY", "key-2")
    second = fsspec.filesystem("atai")
    assert second is not first
    assert (first.api_key, second.api_key) == ("key-1", "key-2")
