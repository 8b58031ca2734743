"""The pytest plugin: after ``pip install atai-fs`` a user's test takes ``atai_emulator``,
``flow_emulator``, ``sandbox_emulator`` and ``aionvision_emulator`` with no import and
no conftest, each a running emulator with the protocol's variables pointing at it.

The user's side runs in a fresh project (a temporary directory with one test file)
against the package installed into a virtualenv of its own, so the entry point is the
one that install wrote. The fixtures' behaviour is also checked in this process, where
the suite loads the plugin itself.
"""

from __future__ import annotations

import os
import subprocess
import textwrap
from pathlib import Path

import fsspec
import pytest

from tests.support.fresh_install import clean_environment

_RUN_TIMEOUT = 180.0

VARIABLES = {
    "atai_emulator": ("atai", "ATAI_API_KEY", "ATAI_API_ENDPOINT", "ATAI_RATE_LIMIT"),
    "flow_emulator": ("flow", None, "FLOW_API_ENDPOINT", None),
    "sandbox_emulator": ("sandbox", "SANDBOX_API_KEY", "SANDBOX_API_ENDPOINT", None),
    "aionvision_emulator": (
        "aionvision",
        "AIONVISION_API_KEY",
        "AIONVISION_API_ENDPOINT",
        "AIONVISION_RATE_LIMIT",
    ),
}


def run_users_tests(python: Path, project: Path, code: str) -> subprocess.CompletedProcess[str]:
    """``pytest`` in ``project``, holding only ``test_pipeline.py`` with ``code``."""
    project.mkdir(exist_ok=True)
    (project / "test_pipeline.py").write_text(textwrap.dedent(code))
    return subprocess.run(
        [str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_pipeline.py"],
        cwd=project,
        env=clean_environment(),
        capture_output=True,
        text=True,
        timeout=_RUN_TIMEOUT,
    )


def test_a_users_test_takes_the_fixtures_with_no_import_and_no_conftest(installed_python, tmp_path):
    result = run_users_tests(
        installed_python,
        tmp_path / "project",
        """
        import fsspec
        import pandas as pd


        def test_report_is_published(atai_emulator):
            pd.DataFrame({"x": range(100)}).to_parquet("atai://reports/today.parquet")
            assert len(pd.read_parquet("atai://reports/today.parquet")) == 100
            assert atai_emulator.stats.part_puts >= 1
            assert [u.filename for u in atai_emulator.uploads.values()] == ["reports/today.parquet"]
            assert atai_emulator.orphans() == []


        def test_sandbox(sandbox_emulator):
            fsspec.filesystem("sandbox").pipe_file("sandbox://sb_1/workspace/a.txt", b"a")
            assert sandbox_emulator.read_file("sb_1", "/workspace/a.txt") == b"a"
            assert sandbox_emulator.orphans() == []


        def test_aionvision(aionvision_emulator):
            fsspec.filesystem("aionvision").pipe_file("aionvision://a.txt", b"a")
            assert [f.filename for f in aionvision_emulator.files.values()] == ["a.txt"]
            assert aionvision_emulator.orphans() == []


        def test_flow(flow_emulator):
            assert fsspec.filesystem("flow").endpoint_url == flow_emulator.endpoint_url
        """,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "4 passed" in result.stdout


def test_a_users_failing_assertion_on_orphans_fails_the_test(installed_python, tmp_path):
    result = run_users_tests(
        installed_python,
        tmp_path / "project",
        """
        import fsspec


        def test_forgets_to_close(atai_emulator):
            f = fsspec.filesystem("atai").open("left-open.bin", "wb", size=10)
            f.write(b"12345")
            assert atai_emulator.orphans() == []
        """,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert "1 failed" in result.stdout


def test_pytest_start_up_loads_the_plugin_and_nothing_of_the_client(installed_python, tmp_path):
    result = run_users_tests(
        installed_python,
        tmp_path / "project",
        """
        import sys


        def test_unrelated():
            loaded = {name for name in sys.modules if name.split(".")[0] == "atai_fs"}
            assert loaded == {"atai_fs", "atai_fs.errors", "atai_fs.testing"}
            assert "aiohttp" not in sys.modules
        """,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_options_fixture_configures_the_emulator_and_the_environment_ends_with_the_test(
    installed_python, tmp_path
):
    result = run_users_tests(
        installed_python,
        tmp_path / "project",
        """
        import os

        import pytest


        @pytest.fixture
        def atai_emulator_options():
            return {"part_size": 64 * 1024, "profile": "strict"}


        def test_strict_emulator(atai_emulator):
            assert atai_emulator.config.part_size == 64 * 1024
            assert atai_emulator.profile == "strict"
            # It enforces the documented limits: the client paces to them.
            assert "ATAI_RATE_LIMIT" not in os.environ


        def test_afterwards():
            assert "ATAI_API_KEY" not in os.environ and "ATAI_API_ENDPOINT" not in os.environ
        """,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 passed" in result.stdout


@pytest.mark.parametrize("fixture", sorted(VARIABLES))
def test_each_fixture_points_its_protocol_at_its_emulator(fixture, request):
    emulator = request.getfixturevalue(fixture)
    protocol, key, endpoint, rate_limit = VARIABLES[fixture]
    assert os.environ[endpoint] == emulator.endpoint_url
    if key is not None:
        assert os.environ[key] == emulator.api_key
    if rate_limit is not None:
        assert os.environ[rate_limit] == "off"  # the emulator enforces no limit
    fs = fsspec.filesystem(protocol, skip_instance_cache=True)
    assert fs.endpoint_url == emulator.endpoint_url


def test_an_upload_left_open_is_an_orphan(atai_emulator):
    f = fsspec.filesystem("atai", skip_instance_cache=True).open("open.bin", "wb", size=10)
    f.write(b"12345")
    (orphan,) = atai_emulator.orphans()
    assert orphan.filename == "open.bin"
    f.discard()
    assert atai_emulator.orphans() == []
