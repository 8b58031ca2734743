"""Directory uploads: a local tree as the PAX tar archive a ``directory_tar`` session takes.

Entries are sorted by name, relative to the root, with modes and modification times
kept and owners zeroed (as the vendor SDK builds them).  The archive is written into a
spool (memory, then an unlinked temporary file) while its SHA-256 is computed, since the
session's create may carry the whole content's digest.
"""

from __future__ import annotations

import hashlib
import os
import stat
import tarfile

from ...engine.sources import Buffer, SpoolSource
from ...errors import InvalidRequest

__all__ = ["build_tar_archive"]


class _HashingSink:
    """A write-only file object feeding a spool and a SHA-256 (what tarfile writes into)."""

    def __init__(self, spool: SpoolSource) -> None:
        self.spool = spool
        self.sha256 = hashlib.sha256()

    def write(self, data: Buffer) -> int:
        self.sha256.update(data)
        return self.spool.write(data)


def build_tar_archive(root: str, spool: SpoolSource) -> tuple[str, int]:
    """Write ``root``'s tree as a PAX tar into ``spool``; return (SHA-256, file count).

    Entries are sorted by name, relative to ``root``, with modes and modification times
    kept and owners zeroed (as the vendor SDK builds them).  Regular files, directories
    and relative symlinks that stay inside the tree are archived; a symlink that is
    absolute or leaves the tree, a FIFO, socket or device file raises
    :class:`~atai_fs.errors.InvalidRequest` naming it, before anything is sent.
    Memory stays bounded: files are copied in chunks and the spool spills to disk.
    """
    sink = _HashingSink(spool)
    count = 0
    with tarfile.open(fileobj=sink, mode="w|", format=tarfile.PAX_FORMAT) as archive:  # type: ignore[call-overload]
        pending = sorted(os.listdir(root), reverse=True)  # a stack: names pop in order
        while pending:
            relative = pending.pop()
            full = os.path.join(root, relative)
            info = os.lstat(full)
            entry = tarfile.TarInfo(relative.replace(os.sep, "/"))
            entry.mode = stat.S_IMODE(info.st_mode)
            entry.mtime = int(info.st_mtime)
            entry.uid = entry.gid = 0
            entry.uname = entry.gname = ""
            if stat.S_ISDIR(info.st_mode):
                entry.type = tarfile.DIRTYPE
                archive.addfile(entry)
                children = sorted(os.listdir(full), reverse=True)
                pending.extend(os.path.join(relative, child) for child in children)
            elif stat.S_ISREG(info.st_mode):
                entry.size = info.st_size
                with open(full, "rb") as data:
                    archive.addfile(entry, data)
                count += 1
            elif stat.S_ISLNK(info.st_mode):
                entry.type = tarfile.SYMTYPE
                entry.linkname = _inside_link(root, relative, os.readlink(full))
                archive.addfile(entry)
            else:
                raise InvalidRequest(
                    f"{full} is a special file (FIFO, socket or device); directory uploads "
                    "take regular files, directories and symlinks only: remove it or upload "
                    "the files one by one"
                )
    return sink.sha256.hexdigest(), count


def _inside_link(root: str, relative: str, link: str) -> str:
    resolved = os.path.normpath(os.path.join(os.path.dirname(relative), link))
    if os.path.isabs(link) or resolved == ".." or resolved.startswith(".." + os.sep):
        raise InvalidRequest(
            f"{os.path.join(root, relative)} is a symlink to {link!r}, outside the uploaded "
            "directory; the sandbox only accepts relative links that stay inside the tree"
        )
    return link.replace(os.sep, "/")
