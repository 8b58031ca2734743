"""The sandboxes' filesystems: destination rules, publishing a file, extracting a tree.

Each sandbox's files live under ``DATA_DIR/sandboxes/<sandbox_id>/fs``; a sandbox path
``/workspace/a.txt`` is ``.../fs/workspace/a.txt``.  Publishing is atomic per file (a
temporary name in the same directory, then ``os.replace``); a tree is extracted into a
staging directory first, checked entry by entry, and only then moved into place.

Every operation acts through a :class:`~.sandbox_root.SandboxRoot` (of the sandbox's
``fs``, or of the staging tree while extracting), which walks each path physically: a
symlink, whatever its text says, can lead no write, delete or chmod out of them.
"""

from __future__ import annotations

import hashlib
import posixpath
import shutil
import stat
import tarfile
from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from .config import RESERVED_PATHS
from .sandbox_root import LeavesRoot, SandboxRoot

_COPY_CHUNK = 1 << 20


class PathRejected(Exception):
    """A destination or archive entry breaks the path rules (the caller picks the reason)."""

    def __init__(self, reason: str, message: str, path: str | None = None) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message
        self.path = path


def home_of(user: str | None) -> str | None:
    if user is None:
        return None
    return "/root" if user == "root" else f"/home/{user}"


_NAME_MAX = 255
_PATH_MAX = 4096
"""Linux's limits in bytes, of one name and of a whole path: a sandbox path beyond them
could never be created (ENAMETOOLONG), so it is refused as sent."""


def too_long(path: str) -> bool:
    """Whether ``path`` has a name or a length no Linux filesystem takes."""
    encoded = path.encode("utf-8", "surrogatepass")
    return len(encoded) > _PATH_MAX or any(len(n) > _NAME_MAX for n in encoded.split(b"/"))


def normalize_target(path: str, user: str | None, roots: Iterable[str]) -> str:
    """The absolute, normalized destination of ``path`` (spec 4.1 ``target_path``)."""
    if not path or "\x00" in path:
        raise PathRejected("invalid_request", "target_path must be a non-empty path")
    if too_long(path):
        raise PathRejected(
            "invalid_request",
            f"target_path has a name over {_NAME_MAX} bytes or is over {_PATH_MAX} bytes",
        )
    home = home_of(user)
    absolute = path if path.startswith("/") else posixpath.join(home or "/workspace", path)
    normalized = posixpath.normpath(absolute)
    if normalized.startswith("//"):
        normalized = "/" + normalized.lstrip("/")
    allowed = [*roots, *([home] if home else [])]
    if not any(normalized == root or normalized.startswith(root + "/") for root in allowed):
        raise PathRejected(
            "invalid_request",
            f"target_path {normalized} is outside the writable roots {sorted(allowed)}",
            normalized,
        )
    if is_reserved(normalized):
        raise PathRejected(
            "invalid_request", f"target_path {normalized} is reserved by the sandbox", normalized
        )
    return normalized


def is_reserved(path: str) -> bool:
    return any(path == r or path.startswith(r + "/") for r in RESERVED_PATHS)


@dataclass(frozen=True)
class Published:
    bytes: int
    files: int


@contextmanager
def _refusing(reason: str, subject: str, root: str, path: str, shown: str) -> Iterator[None]:
    """What a tree's links and files do to the path of ``subject``, as a refusal with
    ``reason`` (``root`` names the tree; a link is shown as ``shown`` + its path)."""
    try:
        yield
    except LeavesRoot as exc:
        through = f" through the symlink {shown}{exc.link}" if exc.link else ""
        raise PathRejected(reason, f"{subject} leads outside {root}{through}", path) from None
    except (NotADirectoryError, FileExistsError):
        raise PathRejected(
            reason, f"a parent of {subject} exists and is not a directory", path
        ) from None


def _destination(target: str) -> AbstractContextManager[None]:
    """Refusals of a destination in the sandbox's files."""
    return _refusing("target_conflict", target, "the sandbox", target, "/")


def _entry(raw: str) -> AbstractContextManager[None]:
    """Refusals of archive entry ``raw`` in the tree being extracted."""
    subject = f"archive entry {raw!r}"
    return _refusing("directory_extract_invalid_path", subject, "the extracted tree", raw, "")


class SandboxFiles:
    """The files of every sandbox under one data directory.

    Every operation on a sandbox's files goes through a :class:`SandboxRoot` of its
    ``fs`` directory (and extraction through one of the staging tree): no path, however
    its symlinks chain, reads or writes outside them.
    """

    def __init__(self, data_dir: Path) -> None:
        self.root = data_dir / "sandboxes"
        self.root.mkdir(parents=True, exist_ok=True)

    def fs_dir(self, sandbox_id: str) -> Path:
        """The host directory that is ``/`` of the sandbox's paths."""
        return self.root / sandbox_id / "fs"

    def host_path(self, sandbox_id: str, path: str) -> Path:
        """Where sandbox path ``path`` lives on the host (``path`` is normalized absolute;
        symlinks on the way are not resolved: for looking, never for acting)."""
        return self.fs_dir(sandbox_id) / path.lstrip("/")

    def open_root(self, sandbox_id: str) -> SandboxRoot:
        """The sandbox's filesystem, through which every operation on it goes."""
        return SandboxRoot.open(self.fs_dir(sandbox_id))

    def check_destination(self, sandbox_id: str, target: str) -> None:
        """Refuse early a destination that the sandbox's symlinks already lead out of the
        sandbox or into a reserved path (publishing checks again, authoritatively)."""
        if not self.fs_dir(sandbox_id).is_dir():
            return  # a sandbox without files yet: no link to lead anywhere
        # Parents still to be made lead nowhere else: nothing to refuse yet.
        with self.open_root(sandbox_id) as fs, _destination(target), suppress(FileNotFoundError):
            _refuse_reserved(fs, target)

    def read_bytes(self, sandbox_id: str, path: str) -> bytes:
        """The bytes of file ``path`` (symlinks followed inside the sandbox)."""
        with self.open_root(sandbox_id) as fs, fs.open_file(path) as data:
            return data.read()

    def exists(self, sandbox_id: str, path: str) -> bool:
        """Whether ``path`` exists (a symlink counts, wherever it points)."""
        with self.open_root(sandbox_id) as fs:
            return fs.kind(path) is not None

    # -- files -----------------------------------------------------------------------
    def publish_file(
        self, sandbox_id: str, target: str, parts: list[Path], conflict: str
    ) -> Published:
        with self.open_root(sandbox_id) as fs, _destination(target):
            _make_room(fs, target, conflict, directory=False)
            size = fs.write_file(target, _read_each(parts))
        return Published(size, 1)

    # -- trees -----------------------------------------------------------------------
    def extract_tree(
        self, sandbox_id: str, target: str, archive: Path, workdir: Path, conflict: str
    ) -> Published:
        """Check every entry of ``archive``, extract it into ``workdir``, then move the
        tree to ``target`` under the ``conflict`` policy (open points 10 and 15)."""
        tree_dir = workdir / "tree"
        shutil.rmtree(tree_dir, ignore_errors=True)
        try:
            with tarfile.open(archive, mode="r:") as tar, SandboxRoot.open(tree_dir) as tree:
                members = tar.getmembers()
                names = _check_members(members, target)
                published = _extract(tar, members, names, tree, target)
        except tarfile.TarError as exc:
            raise PathRejected(
                "directory_extract_unsupported_entry", f"the archive is not a valid tar: {exc}"
            ) from None
        with self.open_root(sandbox_id) as fs, _destination(target):
            fs.make_parents(target)
            _refuse_reserved(fs, target)
            if conflict == "merge" and fs.kind(target) == "dir":
                with SandboxRoot.open(tree_dir) as tree:
                    _merge(tree, fs, target)
            else:
                _make_room(fs, target, conflict, directory=True)
                with SandboxRoot.open(workdir) as staging:
                    staging.move("tree", fs, target)
        return published


def _read_each(paths: list[Path]) -> Iterator[IO[bytes]]:
    """Each file opened in turn, closed before the next (parts may be thousands)."""
    for path in paths:
        with open(path, "rb") as data:
            yield data


def _refuse_reserved(fs: SandboxRoot, target: str) -> None:
    """Refuse ``target`` if the symlinks of its parents lead it into a reserved path."""
    physical = "/" + fs.physical(target)
    if is_reserved(physical):
        raise PathRejected(
            "invalid_request", f"{target} leads to {physical}, reserved by the sandbox", target
        )


def _make_room(fs: SandboxRoot, target: str, conflict: str, *, directory: bool) -> None:
    """Create the parents of ``target``, then apply the conflict policy to what is there."""
    fs.make_parents(target)
    _refuse_reserved(fs, target)
    kind = fs.kind(target)
    if kind is None:
        return
    is_dir = kind == "dir"
    if conflict == "error":
        raise PathRejected("target_conflict", f"{target} already exists", target)
    if conflict == "merge" and is_dir and not directory:
        raise PathRejected(
            "target_conflict",
            f"{target} is a directory; a file cannot be merged over it (use replace)",
            target,
        )
    if conflict == "merge" and directory and not is_dir:
        raise PathRejected(
            "target_conflict",
            f"{target} is a file; a tree cannot be merged over it (use replace)",
            target,
        )
    if is_dir or directory or conflict == "replace":
        fs.remove(target)


def _check_members(members: list[tarfile.TarInfo], target: str) -> list[str]:
    """Normalized names of the entries; raise :class:`PathRejected` on the first whose
    text breaks the rules.  Where links lead is checked on the tree, as it is extracted."""
    names: list[str] = []
    seen: set[str] = set()
    for member in members:
        raw = member.name
        name = posixpath.normpath(raw) if raw not in ("", ".") else "."
        if raw.startswith("/") or name == ".." or name.startswith("../") or "\x00" in raw:
            raise PathRejected(
                "directory_extract_invalid_path", f"archive entry {raw!r} escapes the target", raw
            )
        if too_long(posixpath.join(target, name)):
            raise PathRejected(
                "directory_extract_invalid_path",
                f"archive entry {raw[:80]!r}... has a name over {_NAME_MAX} bytes or makes a "
                f"path over {_PATH_MAX} bytes",
                raw,
            )
        if is_reserved(posixpath.join(target, name)):
            raise PathRejected(
                "directory_extract_invalid_path", f"archive entry {raw!r} is a reserved path", raw
            )
        if member.issym() or member.islnk():
            link = member.linkname
            if (
                link.startswith("/")
                or "\x00" in link
                or too_long(link)
                or (member.islnk() and posixpath.normpath(link) not in seen)
            ):
                raise PathRejected(
                    "directory_extract_invalid_symlink",
                    f"link {raw!r} -> {link!r} points outside the extracted tree",
                    raw,
                )
        elif not (member.isreg() or member.isdir()):
            raise PathRejected(
                "directory_extract_unsupported_entry",
                f"archive entry {raw!r} is a device, FIFO or other special file",
                raw,
            )
        names.append(name)
        seen.add(name)
    return names


def _extract(
    tar: tarfile.TarFile,
    members: list[tarfile.TarInfo],
    names: list[str],
    tree: SandboxRoot,
    target: str,
) -> Published:
    """Write the entries into ``tree``, each where its path physically leads in it;
    then check that no link, now that every entry is there, leads out of the tree (a
    link made before the entries it goes through was judged on what existed then)."""
    size = files = 0
    for member, name in zip(members, names, strict=True):
        with _entry(member.name):
            written = _extract_entry(tar, member, name, tree, target)
        if written is not None:
            files += 1
            size += written
    for link, destination in tree.links():
        with _link_inside(link, destination):
            tree.check_link(link, destination)
    return Published(size, files)


def _extract_entry(
    tar: tarfile.TarFile, member: tarfile.TarInfo, name: str, tree: SandboxRoot, target: str
) -> int | None:
    """Write one entry into ``tree``: the size of the regular file it is, else None."""
    if name == "." and member.isdir():
        tree.make_dir(name, stat.S_IMODE(member.mode) | 0o700)
        return None
    if name == ".":
        raise PathRejected(
            "directory_extract_invalid_path",
            f"archive entry {member.name!r} names the tree itself",
            member.name,
        )
    tree.make_parents(name)
    if is_reserved(posixpath.join(target, tree.physical(name))):
        raise PathRejected(
            "directory_extract_invalid_path",
            f"archive entry {member.name!r} leads to a reserved path",
            member.name,
        )
    if member.isdir():
        tree.make_dir(name, stat.S_IMODE(member.mode) | 0o700)
        return None
    if tree.kind(name) is not None:
        tree.remove(name)  # an entry replaces what has its name
    if member.issym():
        with _link_inside(member.name, member.linkname):
            tree.symlink(name, member.linkname)
        return None
    if member.islnk():
        source = posixpath.normpath(member.linkname)
        kind = tree.kind(source)
        if kind == "link":  # a hard link to a symlink is that symlink, here
            destination = tree.read_link(source)
            with _link_inside(member.name, destination):
                tree.symlink(name, destination)
            return None
        if kind != "file":
            raise PathRejected(
                "directory_extract_invalid_symlink",
                f"hard link {member.name!r} -> {member.linkname!r} is not to a file",
                member.name,
            )
        with tree.open_file(source) as copied:
            return tree.write_file(name, [copied])
    data = tar.extractfile(member)
    assert data is not None
    with data:
        mode, mtime = stat.S_IMODE(member.mode), member.mtime
        return tree.write_file(name, [data], mode=mode, mtime=mtime)


@contextmanager
def _link_inside(raw: str, destination: str) -> Iterator[None]:
    """A link ``raw -> destination`` that leads out of the tree, as its entry's refusal."""
    try:
        yield
    except LeavesRoot:
        raise PathRejected(
            "directory_extract_invalid_symlink",
            f"link {raw!r} -> {destination!r} points outside the extracted tree",
            raw,
        ) from None


def _merge(tree: SandboxRoot, fs: SandboxRoot, dest: str, path: str = "") -> None:
    """Move the extracted entries over ``dest``, keeping unrelated entries (open point 10)."""
    for name, kind in tree.entries(path):
        entry = posixpath.join(path, name)
        target = posixpath.join(dest, entry)
        existing = fs.kind(target)
        if kind == "dir" and existing == "dir":
            _merge(tree, fs, dest, entry)
            continue
        if existing is not None:
            fs.remove(target)
        tree.move(entry, fs, target)


def sha256_of(paths: list[Path]) -> str:
    digest = hashlib.sha256()
    for path in paths:
        with open(path, "rb") as data:
            while chunk := data.read(_COPY_CHUNK):
                digest.update(chunk)
    return digest.hexdigest()
