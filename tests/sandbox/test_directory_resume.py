"""put(dir, recursive=True) resumes a directory session a failed run left in progress: the
tar stream is deterministic, so the rerun rebuilds the same bytes, checks them against
what the session accepted and sends only the parts from next_part; a tree that changed
meanwhile starts afresh, saying so."""

from __future__ import annotations

import logging
import os

import pytest

from atai_fs import RequestFailed, RetryPolicy, UploadFailed
from atai_fs.engine.sources import SpoolSource
from atai_fs.targets.sandbox import build_tar_archive, scan_tree
from tests.sandbox.conftest import PART_SIZE, SANDBOX, make_fs, url

REMOTE = url("/workspace/project")


@pytest.fixture
def tree(tmp_path):
    """A tree whose archive spans about a dozen parts."""
    root = tmp_path / "project"
    (root / "src" / "pkg").mkdir(parents=True)
    (root / "data").mkdir()
    (root / "src" / "pkg" / "mod.py").write_text("print('hi')\n")
    (root / "data" / "big.bin").write_bytes(os.urandom(8 * PART_SIZE))
    (root / "data" / "more.bin").write_bytes(os.urandom(3 * PART_SIZE + 7))
    (root / "README.md").write_text("# project\n")
    os.symlink("data/big.bin", root / "latest")
    return root


def archive_of(root) -> tuple[bytes, str]:
    spool = SpoolSource(1 << 30)
    try:
        digest, _ = build_tar_archive(str(root), spool)
        return bytes(spool.read(0, spool.size)), digest
    finally:
        spool.close()


def impatient(emulator):
    """Fails at the first refused part; one part at a time, so the failure is midway."""
    return make_fs(emulator, retry=RetryPolicy(attempts=1), max_concurrency=1)


def fail_midway(emulator, tree, at_part: int = 5) -> str:
    emulator.faults.add(route="part", status=503, nth=at_part + 1)
    with pytest.raises(UploadFailed, match=r"run the same put\(\.\.\., recursive=True\)") as info:
        impatient(emulator).put(str(tree), REMOTE, recursive=True)
    emulator.faults.clear()
    assert info.value.upload_id in emulator.sessions
    return info.value.upload_id


def test_the_archive_of_an_unchanged_tree_is_the_same_bytes(tree):
    first, digest = archive_of(tree)
    (tree / "data" / "big.bin").stat()  # reading a tree changes nothing in it
    again, digest_again = archive_of(tree)
    assert first == again and digest == digest_again
    names = [m.name for m in scan_tree(str(tree))]
    assert names == [
        "README.md",
        "data",
        "data/big.bin",
        "data/more.bin",
        "latest",
        "src",
        "src/pkg",
        "src/pkg/mod.py",
    ]


def test_a_failed_directory_upload_is_left_in_progress(emulator, tree):
    upload_id = fail_midway(emulator, tree)
    session = emulator.sessions[upload_id]
    assert session.status == "uploading"
    assert not emulator.exists(SANDBOX, "/workspace/project")


def test_a_rerun_sends_only_the_parts_from_next_part(emulator, tree):
    upload_id = fail_midway(emulator, tree, at_part=5)
    parts_before = emulator.stats.requests_by_route["part"]
    session = emulator.sessions[upload_id]
    result = make_fs(emulator).put(str(tree), REMOTE, recursive=True)
    assert result["session"]["upload_id"] == upload_id
    routes = emulator.stats.requests_by_route
    assert routes["create"] == 1  # the same session, continued
    assert routes["part"] - parts_before == session.part_count - 5
    assert (
        emulator.read_file(SANDBOX, "/workspace/project/data/big.bin")
        == (tree / "data" / "big.bin").read_bytes()
    )
    assert emulator.read_file(SANDBOX, "/workspace/project/src/pkg/mod.py") == b"print('hi')\n"
    assert os.readlink(emulator.path_of(SANDBOX, "/workspace/project/latest")) == "data/big.bin"


def test_a_tree_changed_in_between_starts_fresh_and_says_so(emulator, tree, caplog):
    upload_id = fail_midway(emulator, tree)
    (tree / "src" / "pkg" / "new.py").write_text("x = 1\n")
    with caplog.at_level(logging.WARNING, logger="atai_fs"):
        result = make_fs(emulator).put(str(tree), REMOTE, recursive=True)
    assert "the directory changed" in caplog.text and "src/pkg/new.py is new" in caplog.text
    assert result["session"]["upload_id"] != upload_id
    assert emulator.sessions[upload_id].status == "aborted"
    assert emulator.read_file(SANDBOX, "/workspace/project/src/pkg/new.py") == b"x = 1\n"


def test_content_changed_under_an_unchanged_listing_is_not_spliced(emulator, tree, caplog):
    upload_id = fail_midway(emulator, tree, at_part=6)
    big = tree / "data" / "big.bin"
    stat = big.stat()
    fresh = os.urandom(stat.st_size)
    big.write_bytes(fresh)  # same size ...
    os.utime(big, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # ... and modification time
    with caplog.at_level(logging.WARNING, logger="atai_fs"):
        result = make_fs(emulator).put(str(tree), REMOTE, recursive=True)
    assert "not the one upload" in caplog.text
    assert result["session"]["upload_id"] != upload_id
    assert emulator.read_file(SANDBOX, "/workspace/project/data/big.bin") == fresh


def test_without_resume_a_failure_aborts_the_session(emulator, tree):
    emulator.faults.add(route="part", status=503, nth=3)
    with pytest.raises(RequestFailed) as info:
        impatient(emulator).put(str(tree), REMOTE, recursive=True, resume=False)
    assert "again to resume" not in str(info.value)
    (session,) = emulator.sessions.values()
    assert session.status == "aborted"
