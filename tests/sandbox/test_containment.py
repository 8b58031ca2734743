"""No upload reaches a byte outside the sandbox's directory, however its symlinks chain.

Regression: the "symlink stays inside the tree" check read the text of the link only.
``d/…/d/up -> ../…/..`` (as many ``..`` as ``d``) reads as the tree's root and ``z ->
d/…/d/up/../…/..`` as ``d``, but physically ``z`` is the host's ``/``: a later entry
``z/ABSOLUTE/PATH/file`` wrote any host file, a directory entry chmod-ed a host folder,
and file uploads or ``conflict=replace`` through ``/workspace/t/z/...`` wrote or deleted
host paths.  Each test points the escape at a "victim" folder beside the data directory
and asserts it is left exactly as it was.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import resource
import subprocess
import sys
import tarfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

import pytest

from tests.sandbox.conftest import SANDBOX, api, create_body

REPO = Path(__file__).resolve().parents[2]


class Served(NamedTuple):
    """What :func:`tests.sandbox.conftest.api` needs of an emulator."""

    endpoint_url: str
    api_key: str
    data_dir: Path


# -- the victim: a folder outside the data directory -------------------------------------


def make_victim(root: Path) -> Path:
    victim = root / "victim"
    (victim / "keep").mkdir(parents=True)
    (victim / "keep" / "precious.txt").write_text("do not touch")
    (victim / "top.txt").write_text("top")
    victim.chmod(0o750)
    return victim


def snapshot(folder: Path) -> dict[str, tuple[int, bytes | None]]:
    """relative path -> (mode, bytes of a file): the folder's root included."""
    entries = {".": (folder.lstat().st_mode, None)}
    for path in sorted(folder.rglob("*")):
        info = path.lstat()
        data = path.read_bytes() if path.is_file() and not path.is_symlink() else None
        entries[str(path.relative_to(folder))] = (info.st_mode, data)
    return entries


# -- archives --------------------------------------------------------------------------


def member(name: str, kind: bytes = tarfile.REGTYPE, link: str = "", mode: int = 0o644):
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = link
    info.mode = mode
    info.size = len(b"planted") if kind == tarfile.REGTYPE else 0
    return info


def tar_of(*members: tarfile.TarInfo) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for info in members:
            tar.addfile(info, io.BytesIO(b"planted") if info.isreg() else None)
    return buffer.getvalue()


def depth_of(data_dir: Path) -> int:
    """More ``d`` levels than the host path of any tree the emulator extracts."""
    return len(data_dir.resolve().parts) + 4


def chained_archives(data_dir: Path, victim: Path) -> dict[str, list[tarfile.TarInfo]]:
    """The escapes, each built from links that read as staying inside the tree."""
    n = depth_of(data_dir)
    deep = "/".join(["d"] * n)
    ups = "/".join([".."] * n)
    inside_victim = str(victim).lstrip("/")
    up = member(f"{deep}/up", tarfile.SYMTYPE, ups)  # physically: the tree's root
    z = member("z", tarfile.SYMTYPE, f"{deep}/up/{ups}")  # physically: the host's /
    return {
        "entry-through-the-chain": [up, z, member(f"z/{inside_victim}/planted.txt")],
        "directory-entry-through-the-chain": [
            up,
            z,
            member(f"z/{inside_victim}", tarfile.DIRTYPE, mode=0o777),
        ],
        "directory-entry-over-a-link-to-the-victim": [
            up,
            member("v", tarfile.SYMTYPE, f"{deep}/up/{ups}/{inside_victim}"),
            member("v", tarfile.DIRTYPE, mode=0o777),
        ],
        "hard-link-to-the-up-link-at-the-top": [
            up,
            member("h", tarfile.LNKTYPE, f"{deep}/up"),  # the same link, n levels higher
            member(f"h/{inside_victim}/planted.txt"),
        ],
        "dangling-link-made-to-escape-by-a-later-entry": [
            member(f"{deep}/s", tarfile.SYMTYPE, "a/" + "/".join([".."] * (n + 1))),
            member(f"{deep}/a", tarfile.SYMTYPE, ups),  # makes s lead n+1 levels up
            member(f"{deep}/s/{inside_victim}/planted.txt"),  # reuses the prefix s
        ],
    }


# -- the upload protocol, raw ------------------------------------------------------------


def upload(served: Any, data: bytes, target: str, conflict: str = "error", **fields: Any):
    """Create a session for ``data``, send its parts, complete: (status, body) of the
    first refusal, or of the complete."""
    base = f"/v1/sandboxes/{SANDBOX}/uploads"
    body = create_body(target, len(data), conflict=conflict, **fields)
    status, answer, _ = api(served, "POST", base, body, key=str(uuid.uuid4()))
    if status != 200:
        return status, answer
    session = answer["session"]
    size = session["part_size"]
    for number in range(session["part_count"]):
        chunk = data[number * size : (number + 1) * size]
        headers = {"x-nullspace-part-sha256": hashlib.sha256(chunk).hexdigest()}
        path = f"{base}/{session['upload_id']}/parts/{number}"
        status, answer, _ = api(served, "PUT", path, data=chunk, headers=headers)
        assert status == 200, answer
    status, answer, _ = api(
        served, "POST", f"{base}/{session['upload_id']}/complete", key=str(uuid.uuid4())
    )
    return status, answer


def upload_tree(served: Any, archive: bytes, target: str, conflict: str = "error"):
    return upload(
        served,
        archive,
        target,
        conflict,
        kind="directory_tar",
        source_kind="directory_archive",
        archive_format="tar",
    )


def reason_of(body: dict[str, Any]) -> str | None:
    return body.get("error_detail", {}).get("reason")


# -- tar uploads, against `atai-fs serve sandbox` as users run it --------------------------


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    data_dir = tmp_path_factory.mktemp("served") / "data"
    process = subprocess.Popen(
        [
            sys.executable, "-m", "atai_fs.cli", "serve", "sandbox",
            "--port", "0", "--data-dir", str(data_dir), "--api-key", "containment-key",
            "--part-size", "64KiB",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )  # fmt: skip
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        found = re.search(r"http://127\.0\.0\.1:\d+", line)
        assert found, line
        yield Served(found.group(0), "containment-key", data_dir)
    finally:
        process.terminate()
        process.wait(timeout=30)


@pytest.mark.parametrize(
    "shape",
    [
        "entry-through-the-chain",
        "directory-entry-through-the-chain",
        "directory-entry-over-a-link-to-the-victim",
        "hard-link-to-the-up-link-at-the-top",
        "dangling-link-made-to-escape-by-a-later-entry",
    ],
)
def test_chained_links_leaving_the_tree_are_refused_and_touch_nothing(served, tmp_path, shape):
    victim = make_victim(tmp_path)
    before = snapshot(victim)
    archive = tar_of(*chained_archives(served.data_dir, victim)[shape])
    status, body = upload_tree(served, archive, f"/workspace/{shape}")
    assert status == 400, body
    assert body["code"] == "file_upload_error"
    assert reason_of(body) in (
        "directory_extract_invalid_symlink",
        "directory_extract_invalid_path",
    )
    assert body["error_detail"]["path"] == f"/workspace/{shape}"
    assert snapshot(victim) == before
    assert not (served.data_dir / "sandboxes" / SANDBOX / "fs" / "workspace" / shape).exists()


def test_the_refusal_names_the_link_that_leaves(served, tmp_path):
    victim = make_victim(tmp_path)
    archive = tar_of(*chained_archives(served.data_dir, victim)["entry-through-the-chain"])
    status, body = upload_tree(served, archive, "/workspace/named")
    assert (status, reason_of(body)) == (400, "directory_extract_invalid_symlink")
    assert body["error_detail"]["details"] == {"entry": "z"}
    assert "'z'" in body["error"] and "outside the extracted tree" in body["error"]


# -- links that stay inside keep working ---------------------------------------------------


def test_links_and_prefixes_inside_the_tree_are_extracted_as_tar_would(emulator):
    archive = tar_of(
        member("sub", tarfile.DIRTYPE, mode=0o755),
        member("d/d/up", tarfile.SYMTYPE, "../.."),  # the tree's root: inside
        member("l", tarfile.SYMTYPE, "sub"),
        member("l/through-l.txt"),  # written into sub/ through the link
        member("d/d/up/sub/through-up.txt"),
        member("copy", tarfile.LNKTYPE, "l"),  # a hard link to a symlink is that symlink
        member("later", tarfile.SYMTYPE, "sub/not-yet.txt"),  # dangling when made
        member("sub/not-yet.txt"),
    )
    status, body = upload_tree(emulator, archive, "/workspace/ok")
    assert status == 200, body
    root = emulator.path_of(SANDBOX, "/workspace/ok")
    assert sorted(p.name for p in (root / "sub").iterdir()) == [
        "not-yet.txt",
        "through-l.txt",
        "through-up.txt",
    ]
    assert os.readlink(root / "copy") == "sub"
    assert emulator.read_file(SANDBOX, "/workspace/ok/later") == b"planted"
    assert emulator.read_file(SANDBOX, "/workspace/ok/d/d/up/l/through-l.txt") == b"planted"


# -- later uploads through an escaping link already in the sandbox -----------------------


@pytest.fixture
def planted(emulator, tmp_path) -> tuple[Path, str]:
    """The victim, and ``/workspace/t/z``: the chained escape, already in the sandbox
    (the emulator no longer extracts one; a data directory of an older run may hold it)."""
    victim = make_victim(tmp_path)
    fs_root = emulator.path_of(SANDBOX, "/")
    n = depth_of(emulator.data_dir)
    deep = fs_root / "workspace" / "t" / Path(*["d"] * n)
    deep.mkdir(parents=True)
    ups = "/".join([".."] * n)
    os.symlink(ups, deep / "up")
    os.symlink("/".join(["d"] * n) + f"/up/{ups}/{ups}", fs_root / "workspace" / "t" / "z")
    return victim, "/workspace/t/z" + str(victim)


def test_a_file_upload_through_an_escaping_link_is_refused_at_create(emulator, planted):
    victim, through = planted
    before = snapshot(victim)
    status, body = upload(emulator, b"planted", f"{through}/planted.txt")
    assert status == 400
    assert body["code"] == "invalid_request"
    assert body["error"].endswith("leads outside the sandbox through the symlink /workspace/t/z")
    assert snapshot(victim) == before


@pytest.mark.parametrize(
    ("target", "conflict", "tree"),
    [
        ("planted.txt", "error", False),  # a new file
        ("top.txt", "merge", False),  # overwrites a file
        ("keep", "replace", False),  # rmtree of a folder, then a file
        ("keep", "replace", True),  # rmtree of a folder, then a tree
        ("keep", "merge", True),  # a tree merged (and chmod-ed) over a folder
    ],
)
def test_publishing_through_a_link_that_appeared_after_create_is_refused(
    emulator, planted, target, conflict, tree
):
    victim, _ = planted
    before = snapshot(victim)
    destination = f"/workspace/later/{target}"
    data = tar_of(member(".", tarfile.DIRTYPE, mode=0o777), member("x.txt")) if tree else b"x"
    kind = {"kind": "directory_tar", "source_kind": "directory_archive"} if tree else {}
    base = f"/v1/sandboxes/{SANDBOX}/uploads"
    status, answer, _ = api(
        emulator,
        "POST",
        base,
        create_body(destination, len(data), conflict=conflict, **kind),
        key=str(uuid.uuid4()),
    )
    assert status == 200, answer
    upload_id = answer["session"]["upload_id"]
    status, answer, _ = api(emulator, "PUT", f"{base}/{upload_id}/parts/0", data=data)
    assert status == 200, answer
    # Now /workspace/later is the escaping link: the destination leads into the victim.
    os.symlink("t/z" + str(victim), emulator.path_of(SANDBOX, "/workspace/later"))
    status, body, _ = api(emulator, "POST", f"{base}/{upload_id}/complete", key="k")
    assert status == 409, body
    assert reason_of(body) == "target_conflict"
    assert "leads outside the sandbox" in body["error"]
    assert snapshot(victim) == before


def test_reading_back_through_an_escaping_link_is_refused(emulator, planted):
    _, through = planted
    with pytest.raises(PermissionError, match="leads outside the root through the symlink"):
        emulator.read_file(SANDBOX, f"{through}/top.txt")


def test_a_walk_holds_one_descriptor_however_deep_the_tree(emulator):
    depth = 300
    deep = "/".join(["level"] * depth)
    archive = tar_of(member(f"{deep}/leaf.txt"), member("top", tarfile.SYMTYPE, deep))
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(soft, depth - 50), hard))
    try:
        status, body = upload_tree(emulator, archive, "/workspace/deep")
        assert status == 200, body
        assert emulator.read_file(SANDBOX, "/workspace/deep/top/leaf.txt") == b"planted"
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
