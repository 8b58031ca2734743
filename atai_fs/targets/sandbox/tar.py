"""Directory uploads: a local tree as the PAX tar archive a ``directory_tar`` session takes.

The archive is a pure function of the tree's listing (:func:`scan_tree`): entries
sorted by name, relative to the root, each with the mode, size and modification time
(whole seconds) of its ``lstat``, owners zeroed and nothing else that depends on when
or where it is built.  So an unchanged tree always gives the same bytes, which is what
lets a rerun resume a session the first run left in progress; and the listing (each
member's size and modification time) is what tells a changed tree from an unchanged
one before anything is sent.

The archive is written into a spool (memory, then an unlinked temporary file) while its
SHA-256 is computed, since the session's create may carry the whole content's digest.
"""

from __future__ import annotations

import hashlib
import os
import stat
import tarfile
from collections.abc import Sequence
from dataclasses import dataclass

from ...engine.sources import Buffer, SpoolSource
from ...errors import InvalidRequest

__all__ = ["TreeMember", "build_tar_archive", "scan_tree"]


@dataclass(frozen=True)
class TreeMember:
    """One entry of a tree, as its ``lstat`` and ``readlink`` saw it."""

    name: str
    """Relative to the root, ``/``-separated."""
    kind: str
    """``directory``, ``file`` or ``symlink``."""
    mode: int
    size: int
    mtime_ns: int
    linkname: str = ""

    def fingerprint(self) -> list[object]:
        """What a resume record keeps of the member to tell whether it changed."""
        return [self.name, self.kind, self.size, self.mtime_ns]


def scan_tree(root: str) -> list[TreeMember]:
    """Every entry under ``root``, in archive order (depth first, names sorted).

    Regular files, directories and relative symlinks that stay inside the tree are
    taken; a symlink that is absolute or leaves the tree, a FIFO, socket or device file
    raises :class:`~atai_fs.errors.InvalidRequest` naming it, before anything is sent.
    """
    members: list[TreeMember] = []
    pending = sorted(os.listdir(root), reverse=True)  # a stack: names pop in order
    while pending:
        relative = pending.pop()
        full = os.path.join(root, relative)
        info = os.lstat(full)
        name = relative.replace(os.sep, "/")
        mode = stat.S_IMODE(info.st_mode)
        if stat.S_ISDIR(info.st_mode):
            members.append(TreeMember(name, "directory", mode, 0, info.st_mtime_ns))
            children = sorted(os.listdir(full), reverse=True)
            pending.extend(os.path.join(relative, child) for child in children)
        elif stat.S_ISREG(info.st_mode):
            members.append(TreeMember(name, "file", mode, info.st_size, info.st_mtime_ns))
        elif stat.S_ISLNK(info.st_mode):
            link = _inside_link(root, relative, os.readlink(full))
            members.append(TreeMember(name, "symlink", mode, 0, info.st_mtime_ns, link))
        else:
            raise InvalidRequest(
                f"{full} is a special file (FIFO, socket or device); directory uploads "
                "take regular files, directories and symlinks only: remove it or upload "
                "the files one by one"
            )
    return members


class _HashingSink:
    """A write-only file object feeding a spool and a SHA-256 (what tarfile writes into)."""

    def __init__(self, spool: SpoolSource) -> None:
        self.spool = spool
        self.sha256 = hashlib.sha256()

    def write(self, data: Buffer) -> int:
        self.sha256.update(data)
        return self.spool.write(data)


def build_tar_archive(
    root: str, spool: SpoolSource, members: Sequence[TreeMember] | None = None
) -> tuple[str, int]:
    """Write the tree ``members`` of ``root`` lists (default: :func:`scan_tree`) as a
    PAX tar into ``spool``; return (SHA-256, file count).

    Each entry's metadata is the member's, never read again, so the same listing gives
    the same bytes; a file whose length changed meanwhile makes tarfile raise rather
    than archive something the listing does not describe.  Memory stays bounded: files
    are copied in chunks and the spool spills to disk.
    """
    members = scan_tree(root) if members is None else members
    sink = _HashingSink(spool)
    count = 0
    with tarfile.open(fileobj=sink, mode="w|", format=tarfile.PAX_FORMAT) as archive:  # type: ignore[call-overload]
        for member in members:
            entry = tarfile.TarInfo(member.name)
            entry.mode = member.mode
            entry.mtime = member.mtime_ns // 10**9
            entry.uid = entry.gid = 0
            entry.uname = entry.gname = ""
            if member.kind == "directory":
                entry.type = tarfile.DIRTYPE
                archive.addfile(entry)
            elif member.kind == "symlink":
                entry.type = tarfile.SYMTYPE
                entry.linkname = member.linkname
                archive.addfile(entry)
            else:
                entry.size = member.size
                with open(os.path.join(root, member.name), "rb") as data:
                    archive.addfile(entry, data)
                count += 1
    return sink.sha256.hexdigest(), count


def _inside_link(root: str, relative: str, link: str) -> str:
    resolved = os.path.normpath(os.path.join(os.path.dirname(relative), link))
    if os.path.isabs(link) or resolved == ".." or resolved.startswith(".." + os.sep):
        raise InvalidRequest(
            f"{os.path.join(root, relative)} is a symlink to {link!r}, outside the uploaded "
            "directory; the sandbox only accepts relative links that stay inside the tree"
        )
    return link.replace(os.sep, "/")
