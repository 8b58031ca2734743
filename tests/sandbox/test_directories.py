"""put(local_dir, remote, recursive=True) sends one tar archive; the tree arrives intact."""

from __future__ import annotations

import io
import os
import tarfile

import pytest
from fsspec.asyn import sync

from atai_fs.engine.sources import BytesSource
from atai_fs.errors import ArchiveRejected
from tests.sandbox.conftest import PART_SIZE, SANDBOX, url


def tree_of(root) -> dict[str, object]:
    """relative path -> bytes (files), "dir", or ("link", target)."""
    entries: dict[str, object] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            full = os.path.join(dirpath, name)
            relative = os.path.relpath(full, root)
            if os.path.islink(full):
                entries[relative] = ("link", os.readlink(full))
            elif os.path.isdir(full):
                entries[relative] = "dir"
            else:
                with open(full, "rb") as f:
                    entries[relative] = (f.read(), os.stat(full).st_mode & 0o777)
    return entries


@pytest.fixture
def local_tree(tmp_path):
    root = tmp_path / "data"
    (root / "nested" / "deeper").mkdir(parents=True)
    (root / "empty").mkdir()
    (root / "big.bin").write_bytes(os.urandom(3 * PART_SIZE + 5))
    (root / "nested" / "a.txt").write_text("alpha")
    (root / "nested" / "deeper" / "b.csv").write_text("x,y\n1,2\n")
    (root / "run.sh").write_text("#!/bin/sh\n")
    (root / "run.sh").chmod(0o755)
    (root / "zero").write_bytes(b"")
    os.symlink("nested/a.txt", root / "link-to-a")
    return root


def test_directory_round_trip_in_one_session(fs, emulator, local_tree):
    fs.put(str(local_tree) + "/", url("/workspace/data"), recursive=True)
    assert tree_of(emulator.path_of(SANDBOX, "/workspace/data")) == tree_of(local_tree)
    (session,) = emulator.sessions.values()
    assert session.kind == "directory_tar"
    assert session.status == "completed"
    assert emulator.stats.requests_by_route["create"] == 1


def test_directory_into_a_trailing_slash_destination_keeps_its_name(fs, emulator, local_tree):
    fs.put(str(local_tree), url("/workspace") + "/", recursive=True)
    assert tree_of(emulator.path_of(SANDBOX, "/workspace/data")) == tree_of(local_tree)


def test_conflict_error_refuses_an_existing_tree(fs, emulator, local_tree):
    fs.put(str(local_tree), url("/workspace/data"), recursive=True)
    with pytest.raises(FileExistsError, match="already exists"):
        fs.put(str(local_tree), url("/workspace/data"), recursive=True)


def test_conflict_replace_removes_the_old_tree(fs, emulator, local_tree, tmp_path):
    fs.put(str(local_tree), url("/workspace/data"), recursive=True)
    other = tmp_path / "other"
    other.mkdir()
    (other / "only.txt").write_text("new")
    fs.put(str(other), url("/workspace/data"), recursive=True, conflict="replace")
    assert tree_of(emulator.path_of(SANDBOX, "/workspace/data")) == tree_of(other)


def test_conflict_merge_keeps_unrelated_entries(fs, emulator, local_tree, tmp_path):
    fs.put(str(local_tree), url("/workspace/data"), recursive=True)
    other = tmp_path / "other"
    (other / "nested").mkdir(parents=True)
    (other / "nested" / "a.txt").write_text("changed")
    (other / "added.txt").write_text("added")
    fs.put(str(other), url("/workspace/data"), recursive=True, conflict="merge")
    merged = tree_of(emulator.path_of(SANDBOX, "/workspace/data"))
    assert merged["nested/a.txt"][0] == b"changed"
    assert merged["added.txt"][0] == b"added"
    assert merged["big.bin"] == tree_of(local_tree)["big.bin"]


def test_conflict_policies_for_files(fs, emulator):
    fs.pipe_file(url("/workspace/f.txt"), b"one")
    fs.pipe_file(url("/workspace/f.txt"), b"two", conflict="replace")
    fs.pipe_file(url("/workspace/f.txt"), b"three", conflict="merge")
    assert emulator.read_file(SANDBOX, "/workspace/f.txt") == b"three"
    with pytest.raises(FileExistsError):
        fs.pipe_file(url("/workspace/f.txt"), b"four", mode="create", conflict="merge")


def test_symlink_leaving_the_tree_is_refused_before_any_request(fs, emulator, local_tree):
    os.symlink("../../etc/passwd", local_tree / "nested" / "escape")
    with pytest.raises(ValueError, match="outside the uploaded directory"):
        fs.put(str(local_tree), url("/workspace/data"), recursive=True)
    assert emulator.stats.api_requests == 0


def test_special_files_are_refused_before_any_request(fs, emulator, local_tree):
    os.mkfifo(local_tree / "pipe")
    with pytest.raises(ValueError, match="special file"):
        fs.put(str(local_tree), url("/workspace/data"), recursive=True)
    assert emulator.stats.api_requests == 0


def crafted_tar(*entries: tarfile.TarInfo) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for entry in entries:
            tar.addfile(entry, io.BytesIO(b"x" * entry.size) if entry.isreg() else None)
    return buffer.getvalue()


def entry(name: str, kind: bytes = tarfile.REGTYPE, link: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = link
    info.size = 1 if kind == tarfile.REGTYPE else 0
    return info


@pytest.mark.parametrize(
    ("archive_entry", "reason"),
    [
        (entry("../outside"), "directory_extract_invalid_path"),
        (entry("/abs"), "directory_extract_invalid_path"),
        (entry("sub/../../up"), "directory_extract_invalid_path"),
        (entry("link", tarfile.SYMTYPE, "/etc/passwd"), "directory_extract_invalid_symlink"),
        (entry("a/link", tarfile.SYMTYPE, "../../x"), "directory_extract_invalid_symlink"),
        (entry("hard", tarfile.LNKTYPE, "missing"), "directory_extract_invalid_symlink"),
        (entry("fifo", tarfile.FIFOTYPE), "directory_extract_unsupported_entry"),
        (entry("dev", tarfile.CHRTYPE), "directory_extract_unsupported_entry"),
    ],
)
def test_emulator_refuses_archives_breaking_the_path_rules(fs, emulator, archive_entry, reason):
    archive = crafted_tar(entry("ok.txt"), archive_entry)
    target = fs._make_target(
        url("/workspace/evil"), kind="directory_tar", source_kind="directory_archive"
    )

    async def run():
        return await fs._uploader(target).upload(BytesSource(archive))

    with pytest.raises(ArchiveRejected, match=reason) as info:
        sync(fs.loop, run)
    assert isinstance(info.value, ValueError)
    assert not emulator.exists(SANDBOX, "/workspace/evil")
    assert not os.path.exists(emulator.data_dir / "sandboxes" / "outside")


def test_archive_under_the_reserved_path_is_refused(fs, emulator):
    archive = crafted_tar(entry(".nullspace/config"))
    target = fs._make_target(
        url("/workspace"), kind="directory_tar", source_kind="directory_archive"
    )

    async def run():
        return await fs._uploader(target).upload(BytesSource(archive))

    with pytest.raises(ArchiveRejected, match="reserved"):
        sync(fs.loop, run)
