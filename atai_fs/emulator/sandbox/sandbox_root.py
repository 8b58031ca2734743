"""A directory no file operation leaves, whatever symlinks it holds.

A sandbox's files hold symlinks its uploads created, and a check on the *text* of a
path (``normpath``, ``startswith``) cannot see where a chain of them physically leads:
``d/d/up -> ../..`` reads as the tree's root and ``z -> d/d/up/../..`` as ``d``, yet
``z`` is two levels *above* the tree.  So nothing here asks the host to look a path up.
A path is walked one component at a time, each opened with ``O_NOFOLLOW`` relative to the
descriptor of the directory before it; a symlink met on the way is expanded by hand and
its target walked the same way, ``..`` going back to the directory it came from.  A
``..`` above the root, an absolute target or a loop raises :class:`LeavesRoot`.  The
operation then acts on the last component through the descriptor the walk reached
(``dir_fd=``), never through a path the host would resolve again.

Paths are relative to the root, ``/``-separated.  The last component of a path is never
followed (an operation on a symlink acts on the link), except by :meth:`SandboxRoot.open_file`.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterable, Iterator
from contextlib import suppress
from pathlib import Path
from types import TracebackType
from typing import IO, BinaryIO, Literal

Kind = Literal["dir", "file", "link", "other"]

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_NEW_FILE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
_MAX_LINKS = 40
"""Symlinks one walk may follow (Linux's own limit): a loop ends as a refusal."""
_COPY_CHUNK = 1 << 20


class LeavesRoot(PermissionError):
    """A path, or a symlink's target, leads outside the root: not allowed, whatever the
    host's permissions would say."""

    def __init__(self, path: str, link: str | None) -> None:
        self.path = path
        self.link = link
        """The symlink (relative to the root) whose target led out, if one did."""
        through = f" through the symlink {link}" if link else ""
        super().__init__(f"{path} leads outside the root{through}")


def _components(path: str) -> list[str]:
    return [part for part in path.split("/") if part not in ("", ".")]


def _kind(mode: int) -> Kind:
    if stat.S_ISLNK(mode):
        return "link"
    if stat.S_ISDIR(mode):
        return "dir"
    return "file" if stat.S_ISREG(mode) else "other"


class _Walk:
    """Where a walk from the root physically is: the directory reached, open, and the
    names of the directories the walk went down to reach it.

    One descriptor at a time, however deep: ``..`` opens the physical parent of the
    directory reached, which is the one the walk came from, since a walk only ever
    enters real directories (a symlink is expanded, never entered).
    """

    def __init__(self, root_fd: int, path: str) -> None:
        self.path = path
        self.fd = os.dup(root_fd)
        self.names: list[str] = []
        self.links = 0
        self.path_link: str | None = None
        """The last symlink met among the components of ``path`` itself (not of a link's
        target): the one to name when the walk leads out."""
        self.dangling = 0
        """Components walked past a missing one (only with ``dangling_ok``)."""

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def _enter(self, name: str) -> None:
        """Make the directory ``name`` of the one reached (not a symlink) the one reached."""
        entered = os.open(name, _DIR_FLAGS, dir_fd=self.fd)
        os.close(self.fd)
        self.fd = entered

    def where(self, name: str = "") -> str:
        return "/".join([*self.names, name] if name else self.names)

    def descend(
        self,
        parts: Iterable[str],
        *,
        of_path: bool = True,
        create: bool = False,
        dangling_ok: bool = False,
    ) -> None:
        """Walk ``parts`` (components of ``path``, unless ``of_path`` is false) from
        here, following symlinks inside the root.

        ``create``: make missing directories.  ``dangling_ok``: past a missing
        component, go on by the text alone (so a link to a place that does not exist
        yet is judged by where it would be); else :class:`FileNotFoundError`.
        """
        pending = [(name, of_path) for name in reversed(list(parts))]
        while pending:
            name, from_path = pending.pop()
            if name in ("", "."):
                continue
            if name == "..":
                self._up()
                continue
            if self.dangling:
                self.dangling += 1
                continue
            try:
                self._enter(name)
                self.names.append(name)
                continue
            except FileNotFoundError:
                if create:
                    os.mkdir(name, 0o755, dir_fd=self.fd)
                    pending.append((name, from_path))
                elif dangling_ok:
                    self.dangling = 1
                else:
                    raise FileNotFoundError(
                        errno.ENOENT, "no such directory", self.where(name)
                    ) from None
                continue
            except OSError as exc:
                if exc.errno not in (errno.ELOOP, errno.ENOTDIR):
                    raise
            target = self.link_target(name)
            if target is None:
                raise NotADirectoryError(errno.ENOTDIR, "not a directory", self.where(name))
            expansion = self.expand(name, target, of_path=from_path)
            pending.extend((part, False) for part in reversed(expansion))

    def follow(self, name: str, *, of_path: bool = True, dangling_ok: bool = False) -> str:
        """Follow ``name`` (in the directory reached) while it is a symlink; returns the
        name of what it ends on, in the directory then reached (``"."``: that directory)."""
        while True:
            if name == "..":
                self._up()
                return "."
            if name == "." or self.dangling:
                return name
            target = self.link_target(name)
            if target is None:
                return name
            expansion = self.expand(name, target, of_path=of_path)
            parts = [part for part in expansion if part not in ("", ".")] or ["."]
            self.descend(parts[:-1], of_path=False, dangling_ok=dangling_ok)
            name, of_path = parts[-1], False

    def link_target(self, name: str) -> str | None:
        """The target of ``name`` here if it is a symlink."""
        try:
            info = os.stat(name, dir_fd=self.fd, follow_symlinks=False)
        except FileNotFoundError:
            return None
        return os.readlink(name, dir_fd=self.fd) if stat.S_ISLNK(info.st_mode) else None

    def expand(self, name: str, target: str, *, of_path: bool) -> list[str]:
        """The components to walk instead of the symlink ``name`` (to ``target``)."""
        self.links += 1
        if of_path:
            self.path_link = self.where(name)
        if target.startswith("/") or self.links > _MAX_LINKS:
            raise LeavesRoot(self.path, self.path_link)
        return target.split("/")

    def _up(self) -> None:
        if self.dangling:
            self.dangling -= 1
        elif not self.names:
            raise LeavesRoot(self.path, self.path_link)
        else:
            self._enter("..")
            self.names.pop()


class SandboxRoot:
    """A directory, opened once, that every file operation on its tree goes through.

    ::

        with SandboxRoot.open(data_dir / "sandboxes" / "sb_1" / "fs") as root:
            root.write_file("workspace/a.txt", [source])

    Raises :class:`LeavesRoot` when a path leads outside, :class:`FileNotFoundError`
    or :class:`NotADirectoryError` when a directory on the way is missing or is not one.
    """

    def __init__(self, fd: int) -> None:
        """Take ownership of ``fd``, an open directory (use :meth:`open`)."""
        self._fd = fd

    @classmethod
    def open(cls, path: Path) -> SandboxRoot:
        """The root at ``path``, created if missing."""
        path.mkdir(parents=True, exist_ok=True)
        return cls(os.open(path, _DIR_FLAGS))

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def __enter__(self) -> SandboxRoot:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- walking -----------------------------------------------------------------------
    def _parent(self, path: str, *, create: bool = False) -> tuple[_Walk, str]:
        """The walk to the directory holding the last component of ``path``, and that
        component's name (the caller closes the walk)."""
        parts = _components(path)
        if not parts or parts[-1] == "..":
            raise ValueError(f"{path!r} names no entry of a directory")
        walk = _Walk(self._fd, path)
        try:
            walk.descend(parts[:-1], create=create)
        except BaseException:
            walk.close()
            raise
        return walk, parts[-1]

    def physical(self, path: str) -> str:
        """``path`` with every symlink of its parents resolved (its last component kept):
        where in the tree an operation on ``path`` acts."""
        walk, name = self._parent(path)
        try:
            return walk.where(name)
        finally:
            walk.close()

    def kind(self, path: str) -> Kind | None:
        """What ``path`` is (a symlink is ``"link"``), or None if it does not exist."""
        if not _components(path):
            return "dir"
        try:
            walk, name = self._parent(path)
        except (FileNotFoundError, NotADirectoryError):
            return None
        try:
            return _kind(os.stat(name, dir_fd=walk.fd, follow_symlinks=False).st_mode)
        except FileNotFoundError:
            return None
        finally:
            walk.close()

    def check_link(self, path: str, target: str) -> None:
        """Raise :class:`LeavesRoot` unless a symlink at ``path`` to ``target`` resolves
        inside the root, now, through the links already there (a missing part of the
        target is judged by its text)."""
        walk, name = self._parent(path)
        try:
            parts = walk.expand(name, target, of_path=True)
            walk.descend(parts[:-1], of_path=False, dangling_ok=True)
            walk.follow(parts[-1] or ".", of_path=False, dangling_ok=True)
        except NotADirectoryError:
            pass  # the target goes through a file: it resolves nowhere
        finally:
            walk.close()

    # -- operations --------------------------------------------------------------------
    def make_parents(self, path: str) -> None:
        """Create the missing directories above ``path``."""
        walk, _ = self._parent(path, create=True)
        walk.close()

    def make_dir(self, path: str, mode: int) -> None:
        """A directory at ``path`` with ``mode``; a file or symlink there is replaced."""
        if not _components(path):
            os.fchmod(self._fd, mode)
            return
        walk, name = self._parent(path, create=True)
        try:
            try:
                info = os.stat(name, dir_fd=walk.fd, follow_symlinks=False)
                if not stat.S_ISDIR(info.st_mode):
                    os.unlink(name, dir_fd=walk.fd)
                    os.mkdir(name, 0o700, dir_fd=walk.fd)
            except FileNotFoundError:
                os.mkdir(name, 0o700, dir_fd=walk.fd)
            fd = os.open(name, _DIR_FLAGS, dir_fd=walk.fd)
            try:
                os.fchmod(fd, mode)
            finally:
                os.close(fd)
        finally:
            walk.close()

    def write_file(
        self,
        path: str,
        sources: Iterable[IO[bytes]],
        *,
        mode: int | None = None,
        mtime: float | None = None,
    ) -> int:
        """Write the bytes of ``sources`` at ``path`` atomically (a temporary name, then a
        rename over what was there); returns the size."""
        walk, name = self._parent(path, create=True)
        temporary = f".{name[:200]}.upload-{os.urandom(6).hex()}"
        try:
            size = 0
            with open(os.open(temporary, _NEW_FILE_FLAGS, 0o644, dir_fd=walk.fd), "wb") as out:
                for source in sources:
                    while chunk := source.read(_COPY_CHUNK):
                        size += out.write(chunk)
                if mode is not None:
                    os.fchmod(out.fileno(), mode)
                if mtime is not None:
                    out.flush()
                    os.utime(out.fileno(), (mtime, mtime))
            os.replace(temporary, name, src_dir_fd=walk.fd, dst_dir_fd=walk.fd)
            return size
        except BaseException:
            with suppress(FileNotFoundError):
                os.unlink(temporary, dir_fd=walk.fd)
            raise
        finally:
            walk.close()

    def symlink(self, path: str, target: str) -> None:
        """A symlink at ``path`` to ``target``, refused (:class:`LeavesRoot`) unless the
        target resolves inside the root."""
        self.make_parents(path)
        self.check_link(path, target)
        walk, name = self._parent(path)
        try:
            os.symlink(target, name, dir_fd=walk.fd)
        finally:
            walk.close()

    def read_link(self, path: str) -> str:
        walk, name = self._parent(path)
        try:
            return os.readlink(name, dir_fd=walk.fd)
        finally:
            walk.close()

    def open_file(self, path: str) -> BinaryIO:
        """The regular file at ``path`` opened for reading, symlinks followed inside the root."""
        walk, name = self._parent(path)
        try:
            name = walk.follow(name)
            fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=walk.fd)
        finally:
            walk.close()
        return open(fd, "rb")

    def remove(self, path: str) -> None:
        """Delete ``path``: a file or a symlink (never what it points to), or a whole tree."""
        walk, name = self._parent(path)
        try:
            info = os.stat(name, dir_fd=walk.fd, follow_symlinks=False)
            if stat.S_ISDIR(info.st_mode):
                _remove_tree(walk.fd, name)
            else:
                os.unlink(name, dir_fd=walk.fd)
        finally:
            walk.close()

    def move(self, path: str, into: SandboxRoot, destination: str) -> None:
        """Rename ``path`` of this root to ``destination`` of ``into`` (same filesystem),
        replacing a file or an empty directory there."""
        source, name = self._parent(path)
        try:
            target, target_name = into._parent(destination)
            try:
                os.replace(name, target_name, src_dir_fd=source.fd, dst_dir_fd=target.fd)
            finally:
                target.close()
        finally:
            source.close()

    def entries(self, path: str = "") -> list[tuple[str, Kind]]:
        """The names in the directory at ``path`` and what each is, sorted."""
        walk = _Walk(self._fd, path)
        try:
            walk.descend(_components(path))
            with os.scandir(walk.fd) as found:
                listing = [
                    (entry.name, _kind(entry.stat(follow_symlinks=False).st_mode))
                    for entry in found
                ]
        finally:
            walk.close()
        return sorted(listing)

    def links(self, path: str = "") -> Iterator[tuple[str, str]]:
        """Every symlink under ``path`` (its path and its target), subdirectories
        walked without following links."""
        for name, kind in self.entries(path):
            entry = f"{path}/{name}" if path else name
            if kind == "link":
                yield entry, self.read_link(entry)
            elif kind == "dir":
                yield from self.links(entry)


def _remove_tree(parent_fd: int, name: str) -> None:
    """``rmtree`` of ``name`` in ``parent_fd``, by descriptors: never follows a link."""
    fd = os.open(name, _DIR_FLAGS, dir_fd=parent_fd)
    try:
        with os.scandir(fd) as found:
            children = [(entry.name, entry.is_dir(follow_symlinks=False)) for entry in found]
        for child, is_dir in children:
            if is_dir:
                _remove_tree(fd, child)
            else:
                os.unlink(child, dir_fd=fd)
    finally:
        os.close(fd)
    os.rmdir(name, dir_fd=parent_fd)
