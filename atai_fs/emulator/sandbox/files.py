"""The sandboxes' filesystems: destination rules, publishing a file, extracting a tree.

Each sandbox's files live under ``DATA_DIR/sandboxes/<sandbox_id>/fs``; a sandbox path
``/workspace/a.txt`` is ``.../fs/workspace/a.txt``.  Publishing is atomic per file (a
temporary name in the same directory, then ``os.replace``); a tree is extracted into a
staging directory first, checked entry by entry, and only then moved into place.
"""

from __future__ import annotations

import hashlib
import os
import posixpath
import shutil
import stat
import tarfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from .config import RESERVED_PATHS

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


def normalize_target(path: str, user: str | None, roots: Iterable[str]) -> str:
    """The absolute, normalized destination of ``path`` (spec 4.1 ``target_path``)."""
    if not path or "\x00" in path:
        raise PathRejected("invalid_request", "target_path must be a non-empty path")
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


class SandboxFiles:
    """The files of every sandbox under one data directory."""

    def __init__(self, data_dir: Path) -> None:
        self.root = data_dir / "sandboxes"
        self.root.mkdir(parents=True, exist_ok=True)

    def host_path(self, sandbox_id: str, path: str) -> Path:
        """Where sandbox path ``path`` lives on the host (``path`` is normalized absolute)."""
        return self.root / sandbox_id / "fs" / path.lstrip("/")

    # -- files -----------------------------------------------------------------------
    def publish_file(
        self, sandbox_id: str, target: str, parts: list[Path], conflict: str
    ) -> Published:
        dest = self.host_path(sandbox_id, target)
        self._make_room(dest, target, conflict, directory=False)
        temporary = dest.with_name(f".{dest.name}.upload-{os.getpid()}-{id(parts)}")
        size = 0
        with open(temporary, "wb") as out:
            for part in parts:
                with open(part, "rb") as data:
                    shutil.copyfileobj(data, out, _COPY_CHUNK)
                size += part.stat().st_size
        os.replace(temporary, dest)
        return Published(size, 1)

    # -- trees -----------------------------------------------------------------------
    def extract_tree(
        self, sandbox_id: str, target: str, archive: Path, workdir: Path, conflict: str
    ) -> Published:
        """Check every entry of ``archive``, extract it into ``workdir``, then move the
        tree to ``target`` under the ``conflict`` policy (open points 10 and 15)."""
        tree = workdir / "tree"
        shutil.rmtree(tree, ignore_errors=True)
        tree.mkdir(parents=True)
        try:
            with tarfile.open(archive, mode="r:") as tar:
                members = tar.getmembers()
                names = _check_members(members, target)
                published = _extract(tar, members, names, tree)
        except tarfile.TarError as exc:
            raise PathRejected(
                "directory_extract_unsupported_entry", f"the archive is not a valid tar: {exc}"
            ) from None
        dest = self.host_path(sandbox_id, target)
        exists = dest.exists() or dest.is_symlink()
        if exists and conflict == "merge" and dest.is_dir() and not dest.is_symlink():
            _merge(tree, dest)
        else:
            self._make_room(dest, target, conflict, directory=True)
            os.replace(tree, dest)
        return published

    # -- conflicts -------------------------------------------------------------------
    def _make_room(self, dest: Path, target: str, conflict: str, *, directory: bool) -> None:
        """Apply the conflict policy to an existing ``dest`` and create its parents."""
        self._make_parents(dest, target)
        if not (dest.exists() or dest.is_symlink()):
            return
        is_dir = dest.is_dir() and not dest.is_symlink()
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
        if is_dir:
            shutil.rmtree(dest)
        elif directory or conflict == "replace":
            dest.unlink()

    def _make_parents(self, dest: Path, target: str) -> None:
        try:
            dest.parent.mkdir(parents=True, exist_ok=True)
        except (FileExistsError, NotADirectoryError):
            raise PathRejected(
                "target_conflict", f"a parent of {target} exists and is not a directory", target
            ) from None


def _check_members(members: list[tarfile.TarInfo], target: str) -> list[str]:
    """Normalized names of the entries; raise :class:`PathRejected` on the first bad one."""
    names: list[str] = []
    seen: set[str] = set()
    for member in members:
        raw = member.name
        name = posixpath.normpath(raw) if raw not in ("", ".") else "."
        full = posixpath.normpath(posixpath.join(target, name))
        if raw.startswith("/") or name == ".." or name.startswith("../") or "\x00" in raw:
            raise PathRejected(
                "directory_extract_invalid_path", f"archive entry {raw!r} escapes the target", raw
            )
        if is_reserved(full):
            raise PathRejected(
                "directory_extract_invalid_path", f"archive entry {raw!r} is a reserved path", raw
            )
        if member.issym() or member.islnk():
            link = member.linkname
            base = posixpath.dirname(name) if member.issym() else ""
            resolved = posixpath.normpath(posixpath.join(base, link))
            if (
                link.startswith("/")
                or resolved == ".."
                or resolved.startswith("../")
                or (member.islnk() and resolved not in seen)
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
    tar: tarfile.TarFile, members: list[tarfile.TarInfo], names: list[str], tree: Path
) -> Published:
    size = files = 0
    for member, name in zip(members, names, strict=True):
        path = tree / name if name != "." else tree
        if member.isdir():
            path.mkdir(parents=True, exist_ok=True)
            path.chmod(stat.S_IMODE(member.mode) | 0o700)
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        elif path.exists() or path.is_symlink():
            path.unlink()
        if member.issym():
            os.symlink(member.linkname, path)
        elif member.islnk():
            shutil.copyfile(tree / posixpath.normpath(member.linkname), path)
            files += 1
            size += path.stat().st_size
        else:
            data = tar.extractfile(member)
            assert data is not None
            with data, open(path, "wb") as out:
                shutil.copyfileobj(data, out, _COPY_CHUNK)
            path.chmod(stat.S_IMODE(member.mode))
            os.utime(path, (member.mtime, member.mtime))
            files += 1
            size += member.size
    return Published(size, files)


def _merge(tree: Path, dest: Path) -> None:
    """Move the extracted entries over ``dest``, keeping unrelated entries (open point 10)."""
    for entry in sorted(tree.iterdir()):
        target = dest / entry.name
        if entry.is_dir() and not entry.is_symlink():
            if target.is_symlink() or (target.exists() and not target.is_dir()):
                target.unlink()
            if target.is_dir():
                _merge(entry, target)
                continue
        elif target.is_dir() and not target.is_symlink():
            shutil.rmtree(target)
        os.replace(entry, target)


def sha256_of(paths: list[Path]) -> str:
    digest = hashlib.sha256()
    for path in paths:
        with open(path, "rb") as data:
            while chunk := data.read(_COPY_CHUNK):
                digest.update(chunk)
    return digest.hexdigest()
