"""What a package index and ``pip`` see: the distributions built from this repository,
the README rendered without the repository around it, and a cheap ``import atai_fs``."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

import atai_fs
from tests.support.fresh_install import ROOT, clean_environment

_BUILD_TIMEOUT = 300.0

_NOT_SOURCES = shutil.ignore_patterns(
    ".git", ".venv", "__pycache__", "*.egg-info", "build", "dist", ".*_cache", "scratch"
)


@pytest.fixture(scope="module")
def source_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the repository's sources (builds write their metadata beside them)."""
    copy = tmp_path_factory.mktemp("source") / "atai_fs-src"
    shutil.copytree(ROOT, copy, ignore=_NOT_SOURCES)
    return copy


def build(source: Path, hook: str, out: Path) -> Path:
    """Run the PEP 517 ``hook`` (``build_sdist`` or ``build_wheel``) of ``source``."""
    script = f"from setuptools import build_meta; print(build_meta.{hook}({str(out)!r}))"
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=source,
        env=clean_environment(),
        capture_output=True,
        text=True,
        timeout=_BUILD_TIMEOUT,
    )
    assert result.returncode == 0, result.stderr
    return out / result.stdout.strip().splitlines()[-1]


@pytest.fixture(scope="module")
def unpacked_sdist(source_tree: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    sdist = build(source_tree, "build_sdist", tmp_path_factory.mktemp("sdist"))
    where = tmp_path_factory.mktemp("unpacked")
    with tarfile.open(sdist) as archive:
        archive.extractall(where, filter="data")
    (root,) = where.iterdir()
    return root


def files_under(root: Path, *folders: str) -> set[str]:
    return {
        str(path.relative_to(root))
        for folder in folders
        for path in (root / folder).rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    }


def test_sdist_ships_the_suite_with_everything_it_needs(source_tree, unpacked_sdist):
    needed = files_under(source_tree, "tests", "benchmarks", "docs")
    assert needed <= files_under(unpacked_sdist, "tests", "benchmarks", "docs")
    for name in ("LICENSE", "README.md", "Makefile", "pyproject.toml"):
        assert (unpacked_sdist / name).is_file(), name
    assert not list(unpacked_sdist.rglob("__pycache__"))


def test_sdist_runs_its_own_tests(unpacked_sdist):
    env = clean_environment(PYTHONPATH=str(unpacked_sdist))
    where = subprocess.run(
        [sys.executable, "-c", "import atai_fs, tests; print(atai_fs.__file__, tests.__file__)"],
        cwd=unpacked_sdist,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout.split()
    assert [Path(name).is_relative_to(unpacked_sdist) for name in where] == [True, True]
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "tests/test_redact.py",
            "tests/integration/test_docs_examples.py::test_the_docs_have_runnable_examples",
        ],
        cwd=unpacked_sdist,
        env=env,
        capture_output=True,
        text=True,
        timeout=_BUILD_TIMEOUT,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_wheel_holds_the_package_its_license_and_entry_points_but_no_tests(source_tree, tmp_path):
    with zipfile.ZipFile(build(source_tree, "build_wheel", tmp_path)) as wheel:
        names = wheel.namelist()
        entry_points = wheel.read("atai_fs-0.1.0.dist-info/entry_points.txt").decode()
    assert "atai_fs-0.1.0.dist-info/licenses/LICENSE" in names
    assert "atai_fs/py.typed" in names
    assert not [name for name in names if name.startswith(("tests/", "benchmarks/"))]
    for group in ("fsspec.specs", "pytest11", "universal_pathlib.implementations"):
        assert f"[{group}]" in entry_points


def test_license_is_the_declared_apache_2_text():
    text = (ROOT / "LICENSE").read_text()
    assert 'license = "Apache-2.0"' in (ROOT / "pyproject.toml").read_text()
    assert text.startswith("Copyright 2026 atai_fs contributors\n")
    assert "Apache License\n                           Version 2.0, January 2004" in text
    assert "END OF TERMS AND CONDITIONS" in text


def test_readme_links_work_on_a_package_index_page():
    """An index renders README.md alone: a relative link there leads nowhere."""
    links = re.findall(r"\]\(([^)]+)\)", (ROOT / "README.md").read_text())
    assert [link for link in links if not link.startswith(("https://", "http://"))] == []


def test_every_public_name_resolves():
    for name in atai_fs.__all__:
        assert getattr(atai_fs, name) is not None, name
    assert set(atai_fs.__all__) <= set(dir(atai_fs))


def test_import_atai_fs_loads_no_client():
    """Importing any submodule (the pytest plugin, the emulators) runs ``atai_fs``
    first: it must not bring aiohttp, fsspec or the filesystems with it."""
    script = (
        "import sys, atai_fs; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('atai_fs', 'aiohttp', 'fsspec')))"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "['atai_fs', 'atai_fs.errors']"
