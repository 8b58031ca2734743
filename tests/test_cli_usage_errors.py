"""A command line ``atai-fs`` cannot act on exits 2 on one line, names what is wrong and
the closest valid spelling, and attempts nothing; a secret given on it is never echoed.

Every test runs the command in a subprocess against an emulator on loopback.
"""

from __future__ import annotations

import pytest

from atai_fs import ATAIFileSystem
from tests.test_cli_does_what_was_asked import atai_fs, cli_env, one_error_line


@pytest.fixture
def env(emulator) -> dict[str, str]:
    return cli_env(emulator)


@pytest.fixture
def fs(emulator) -> ATAIFileSystem:
    return ATAIFileSystem(
        api_key=emulator.api_key, endpoint_url=emulator.endpoint_url, skip_instance_cache=True
    )


@pytest.fixture
def local_file(tmp_path):
    path = tmp_path / "a.txt"
    path.write_bytes(b"a")
    return path


def usage_error(code: int, err: str) -> str:
    assert code == 2, err
    return one_error_line(err)


# -- options of the command itself ------------------------------------------------------


@pytest.mark.parametrize(
    ("typo", "meant"),
    [("--recursve", "--recursive"), ("--incude=*.csv", "--include"), ("--dryrun", "--dry-run")],
)
def test_a_misspelt_flag_names_the_closest_flag_of_its_command(env, local_file, fs, typo, meant):
    code, _, err = atai_fs("cp", typo, str(local_file), "atai://typo/", env=env)
    line = usage_error(code, err)
    assert f"did you mean {meant}?" in line
    assert "see atai-fs cp --help" in line  # the command's own help, not the top level's
    assert not fs.exists("typo/a.txt")


def test_an_extra_argument_is_named(env):
    code, _, err = atai_fs("info", "atai://a/", "atai://b/", env=env)
    assert "unexpected argument 'atai://b/'" in usage_error(code, err)


def test_mv_takes_r_as_aws_and_gsutil_users_type_it(env, fs, tmp_path):
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "f.txt").write_bytes(b"f")
    code, _, err = atai_fs("mv", "-r", str(tmp_path / "d"), "atai://moved/", env=env)
    assert code == 0, err
    assert fs.cat_file("moved/d/f.txt") == b"f"
    assert not (tmp_path / "d").exists()


# -- storage options (-o) ---------------------------------------------------------------


def test_a_misspelt_storage_option_is_a_usage_error_naming_the_closest(env, local_file, fs):
    code, _, err = atai_fs("cp", "-o", "max_concurency=4", str(local_file), "atai://o", env=env)
    assert "did you mean 'max_concurrency'" in usage_error(code, err)
    assert not fs.exists("o")


def test_an_ill_typed_storage_option_is_a_usage_error_naming_it(env, local_file, fs):
    code, _, err = atai_fs("cp", "-o", "max_concurrency=lots", str(local_file), "atai://o", env=env)
    assert "max_concurrency must be a whole number" in usage_error(code, err)
    assert not fs.exists("o")


@pytest.mark.parametrize(
    ("option", "said"),
    [
        ("retry.attempts=1", "-o retry=KEY=VALUE"),  # a nested option, wrongly written
        ("atia.max_concurrency=2", "did you mean 'atai'?"),  # a misspelt protocol
    ],
)
def test_an_option_for_a_protocol_that_does_not_exist_is_refused_not_ignored(
    env, local_file, fs, option, said
):
    code, _, err = atai_fs("cp", "-o", option, str(local_file), "atai://o", env=env)
    line = usage_error(code, err)
    assert "is not a protocol" in line and said in line
    assert not fs.exists("o")


def test_an_unknown_protocol_is_a_usage_error_naming_ours(env, local_file):
    code, _, err = atai_fs("cp", str(local_file), "atia://x.txt", env=env)
    line = usage_error(code, err)
    assert "unknown protocol 'atia://'" in line and "did you mean 'atai'?" in line


def test_a_key_given_without_its_name_is_not_echoed(env):
    code, _, err = atai_fs("ls", "-o", "sk-live-abcdef123456", "atai://", env=env)
    assert "sk-live-abcdef123456" not in usage_error(code, err)


def test_a_key_given_for_a_misspelt_protocol_is_not_echoed(env, local_file):
    code, _, err = atai_fs(
        "cp", "-o", "atia.api_key=sk-live-abcdef123456", str(local_file), "atai://o", env=env
    )
    line = usage_error(code, err)
    assert "sk-live-abcdef123456" not in line and "atia.api_key" in line


def test_a_key_that_reads_as_a_number_is_refused_without_showing_it(env, local_file):
    code, _, err = atai_fs("cp", "-o", "api_key=31415926", str(local_file), "atai://o", env=env)
    line = usage_error(code, err)
    assert "api_key must be a string" in line and "31415926" not in line


@pytest.mark.parametrize(
    ("option", "said"),
    [
        ("timeouts=abc", "e.g. 'connect=30,api=120'"),  # its own fields, not retry's
        ("retry=5", "retry must be its fields written name=value (e.g. 'deadline=300,"),
        ("transfer=zz", "e.g. 'max_concurrency=80,"),
    ],
)
def test_a_config_option_written_wrong_shows_its_own_fields(env, local_file, option, said):
    code, _, err = atai_fs("cp", "-o", option, str(local_file), "atai://o", env=env)
    assert said in usage_error(code, err)


def test_a_choice_option_lists_its_values_as_words_not_a_python_tuple(tmp_path, local_file):
    from atai_fs.emulator.sandbox import SandboxEmulator

    with SandboxEmulator(tmp_path / "sandbox") as sandbox:
        env = cli_env(SANDBOX_API_KEY=sandbox.api_key, SANDBOX_API_ENDPOINT=sandbox.endpoint_url)
        target = "sandbox://sb_a1b2c3d4/workspace/a.txt"
        code, _, err = atai_fs("cp", "-o", "conflict=rename", str(local_file), target, env=env)
    line = usage_error(code, err)
    assert "conflict must be 'error', 'replace' or 'merge', got 'rename'" in line
