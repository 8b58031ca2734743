"""``atai-fs cp`` and ``mv``: which file goes where, then the transfers.

The plan follows POSIX ``cp``: a directory needs ``-r`` ("omitting directory"); a
destination that exists as a directory, ends with ``/`` or receives several sources takes
each source under its own name; otherwise the source is copied to that name.  A source
ending with ``/`` copies the directory's contents (as rsync does).  A local destination
ending with ``/`` must exist, unless one directory is copied into it (``cp -r d new/``).
Remote directories are implied by names, so they never need to exist.

Transfers go the most direct way: local files up with the filesystem's ``put`` (parallel
parts, resumable), remote files down with its ``get`` (renamed into place when complete),
a copy within one API with its own ``cp_file``, and anything else (between protocols,
stdin, stdout) streamed chunk by chunk through the two filesystems' files, so no file is
ever held whole in memory.
"""

from __future__ import annotations

import fnmatch
import os
import shutil
import sys
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import IO, Any

from fsspec.asyn import AsyncFileSystem
from fsspec.callbacks import DEFAULT_CALLBACK, Callback

from ..fs.blocking import gather_all, run_blocking
from ..targets.aionvision.options import UploadResult
from .exits import Problems, UsageError
from .locations import Location, basename, expand

__all__ = [
    "CopyPlan",
    "Filters",
    "Transfer",
    "plan_copy",
    "remove_emptied",
    "remove_source",
    "run_transfers",
]

#: Bytes moved at a time by streamed copies (stdin, stdout, between protocols).
STREAM_CHUNK = 8 << 20
#: Files uploaded or downloaded at once (each with its own parts in parallel).
PARALLEL_FILES = 8


@dataclass(frozen=True)
class Filters:
    """``--include`` / ``--exclude`` globs, matched against paths relative to the copied
    directory (a file named on the command line or matched by a glob: its name): a file
    is copied when it matches an include (or none are given) and no exclude."""

    include: Sequence[str] = ()
    exclude: Sequence[str] = ()

    @property
    def admit_everything(self) -> bool:
        return not self.include and not self.exclude

    def admits(self, relative: str) -> bool:
        relative = relative.replace(os.sep, "/")
        names = (relative, basename(relative))
        if self.include and not any(fnmatch.fnmatchcase(n, g) for g in self.include for n in names):
            return False
        return not any(fnmatch.fnmatchcase(n, g) for g in self.exclude for n in names)


@dataclass(frozen=True)
class Transfer:
    """One file to copy: from ``source`` (``size`` bytes, ``None`` when unknown) to
    ``target``; or, with ``whole_directory``, a local directory handed whole to a
    filesystem that uploads trees at once (a sandbox's one archive)."""

    source: Location
    target: Location
    size: int | None
    whole_directory: bool = False


@dataclass
class CopyPlan:
    transfers: list[Transfer]
    #: Local directories to create for the copies of directories (empty ones included).
    directories: list[str]
    #: Local source directories copied whole (``mv`` removes them once emptied).
    source_directories: list[str]

    @property
    def total_bytes(self) -> int | None:
        sizes = [t.size for t in self.transfers]
        return None if any(s is None for s in sizes) else sum(s or 0 for s in sizes)


def plan_copy(
    sources: Sequence[Location],
    destination: Location,
    *,
    recursive: bool,
    filters: Filters,
    problems: Problems,
) -> CopyPlan:
    """The transfers that copy ``sources`` to ``destination``; what cannot be copied is
    added to ``problems`` (the rest still is)."""
    expanded = expand(sources, problems)
    plan = CopyPlan([], [], [])
    if not expanded:
        return plan
    if destination.is_stdio:
        for source in expanded:
            info: dict[str, Any] | None = (
                {"type": "file", "size": None} if source.is_stdio else source.info()
            )
            if info is None:
                problems.add(f"cannot copy {source.text!r}: no such file or directory")
            elif info["type"] == "directory":
                problems.add(f"cannot write the directory {source.text!r} to stdout")
            elif source.is_stdio or filters.admits(basename(source.path)):
                plan.transfers.append(Transfer(source, destination, info.get("size")))
        return plan
    into = _copies_into(expanded, destination, recursive)
    for source in expanded:
        if source.is_stdio:
            if into:
                raise UsageError("cp - needs a file name as destination, not a directory")
            plan.transfers.append(Transfer(source, destination, None))
            continue
        info = source.info()
        if info is None:
            problems.add(f"cannot copy {source.text!r}: no such file or directory")
            continue
        if info["type"] != "directory":
            if not filters.admits(basename(source.path)):
                continue  # a file named or matched by a glob is filtered as any other
            name = destination.join(basename(source.path)) if into else destination.path
            parent = os.path.dirname(name)
            if destination.is_local and not os.path.isdir(parent):
                problems.add(
                    f"cannot copy {source.text!r} to {destination.text!r}: no such directory "
                    f"{parent!r}"
                )
                continue
            _add(plan, source, destination.at(name), info.get("size"), problems)
            continue
        if not recursive:
            problems.add(f"-r not specified; omitting directory {source.text!r}")
            continue
        base = destination.path
        if into and not source.names_a_directory:
            base = destination.join(basename(source.path))
        _plan_directory(plan, source, destination.at(base), filters, problems)
    return plan


def _copies_into(sources: Sequence[Location], destination: Location, recursive: bool) -> bool:
    """Whether each source goes under the destination (a directory) rather than to it."""
    several = len(sources) > 1
    if destination.is_local:
        exists_as_directory = os.path.isdir(destination.path)
        if exists_as_directory:
            return True
        if os.path.exists(destination.path) and several:
            raise UsageError(f"target {destination.text!r} is not a directory")
        if several or destination.names_a_directory:
            one_directory = (
                not several and recursive and not sources[0].is_stdio and sources[0].is_directory()
            )
            if not one_directory:
                raise FileNotFoundError(
                    f"cannot copy into {destination.text!r}: no such directory (create it "
                    "first, or name the file without a trailing '/')"
                )
        return False
    return several or destination.names_a_directory or destination.is_directory()


def _add(
    plan: CopyPlan, source: Location, target: Location, size: int | None, problems: Problems
) -> None:
    if source.fs is target.fs and source.path == target.path:
        problems.add(f"{source.text!r} and {target.text!r} are the same file")
        return
    plan.transfers.append(Transfer(source, target, size))


def _plan_directory(
    plan: CopyPlan, source: Location, target: Location, filters: Filters, problems: Problems
) -> None:
    """Every file under ``source``, to the same relative path under ``target``."""
    if source.is_local:
        unreadable_before = problems.count
        files = _local_tree(source.path, problems)
        plan.source_directories.append(source.path)
        whole = getattr(type(target.fs), "uploads_directories_whole", False)
        if whole and filters.admit_everything and problems.count == unreadable_before:
            total = sum(s or 0 for s in files.values())
            plan.transfers.append(Transfer(source, target, total, whole_directory=True))
            return
    else:
        found = source.fs.find(source.path, detail=True)
        root = source.path.rstrip("/") + "/" if source.path.strip("/") else ""  # or the root
        files = {
            name[len(root) :]: info.get("size")
            for name, info in found.items()
            if info.get("type") != "directory" and name.startswith(root)
        }
    if target.is_local:
        plan.directories.append(target.path)
    for relative, size in sorted(files.items()):
        if not filters.admits(relative):
            continue
        parts = relative.replace(os.sep, "/").split("/")
        if target.is_local:
            plan.directories.append(os.path.dirname(os.path.join(target.path, *parts)))
        _add(plan, source.at(source.join(*parts)), target.at(target.join(*parts)), size, problems)


def _local_tree(root: str, problems: Problems) -> dict[str, int | None]:
    """Relative path -> size of every readable file under ``root``; each unreadable
    directory or file is a problem (it is not copied, and the command says so)."""

    def unreadable(error: OSError) -> None:
        problems.add(f"cannot read directory {error.filename!r}: {error.strerror}; not copied")

    files: dict[str, int | None] = {}
    for directory, _, names in os.walk(root, onerror=unreadable):
        for name in names:
            path = os.path.join(directory, name)
            if not os.access(path, os.R_OK):
                problems.add(f"cannot read {path!r}: permission denied; not copied")
                continue
            files[os.path.relpath(path, root)] = os.path.getsize(path)
    return files


# -- running the transfers ------------------------------------------------------------------


def run_transfers(
    plan: CopyPlan,
    progress: Callback | None,
    report: Callable[[str], None],
    *,
    after_each: Callable[[Transfer], None] | None = None,
) -> None:
    """Run every transfer of ``plan``; uploads' per-file outcomes (Aionvision: uploaded or
    skipped as duplicate, with its id) go to ``report``.  ``after_each`` runs once a
    transfer is done (``mv`` deletes its source there)."""
    for directory in dict.fromkeys(plan.directories):
        os.makedirs(directory, exist_ok=True)
    callback = progress if progress is not None else DEFAULT_CALLBACK
    for group in _groups(plan.transfers):
        first = group[0]
        source, target = first.source, first.target
        if first.whole_directory:
            target.fs.put(source.path, target.path, recursive=True, callback=callback)
        elif source.is_local and not source.is_stdio and not target.is_local:
            _upload(target.fs, group, callback, report)
        elif not source.is_local and target.is_local and not target.is_stdio and _gets(source):
            _download(source.fs, group, callback)
        else:
            for transfer in group:
                _copy_one(transfer, callback)
        if after_each is not None:
            for transfer in group:
                after_each(transfer)


def _upload(
    fs: Any, group: Sequence[Transfer], callback: Callback, report: Callable[[str], None]
) -> None:
    """Upload local files in parallel, each its own ``put_file`` under one gather (an
    interrupt aborts, or leaves resumable and says so, every one before the command
    ends); a filesystem that uploads many files as one batch gets them in one ``put``."""
    lpaths, rpaths = [t.source.path for t in group], [t.target.path for t in group]
    if getattr(type(fs), "uploads_in_batches", False) or not isinstance(fs, AsyncFileSystem):
        results = fs.put(lpaths, rpaths, callback=callback)
        typed = {t.source.path: t.source.text for t in group}
        for result in results if isinstance(results, list) else ():
            if isinstance(result, UploadResult):
                report(_describe(result, typed.get(result.path, result.path)))
        return
    callback.set_size(len(group))
    uploads = [
        fs._put_file(t.source.path, t.target.path, callback=_child(callback, t)) for t in group
    ]
    run_blocking(fs.loop, gather_all(uploads, limit=PARALLEL_FILES))


def _download(fs: Any, group: Sequence[Transfer], callback: Callback) -> None:
    """Download files in parallel; an interrupt stops every one and removes its partial
    file before the command ends (see :func:`~atai_fs.fs.blocking.gather_all`)."""
    callback.set_size(len(group))
    downloads = [
        fs._get_file(t.source.path, t.target.path, callback=_child(callback, t)) for t in group
    ]
    run_blocking(fs.loop, gather_all(downloads, limit=PARALLEL_FILES))


def _child(callback: Callback, transfer: Transfer) -> Callback:
    child: Callback = callback.branched(transfer.source.text, transfer.target.text)
    return child or DEFAULT_CALLBACK


def _groups(transfers: Sequence[Transfer]) -> list[list[Transfer]]:
    """Consecutive transfers between the same two filesystems, in order."""
    groups: list[list[Transfer]] = []
    for transfer in transfers:
        last = groups[-1][0] if groups else None
        alone = transfer.source.is_stdio or transfer.target.is_stdio or transfer.whole_directory
        if (
            last is not None
            and not alone
            and not last.whole_directory
            and last.source.fs is transfer.source.fs
            and last.target.fs is transfer.target.fs
        ):
            groups[-1].append(transfer)
        else:
            groups.append([transfer])
    return groups


def _gets(location: Location) -> bool:
    """Whether the filesystem downloads files itself (else its files are streamed)."""
    fs = type(location.fs)
    return issubclass(fs, AsyncFileSystem) and fs._get_file is not AsyncFileSystem._get_file


def _copies_within(location: Location) -> bool:
    fs = type(location.fs)
    return issubclass(fs, AsyncFileSystem) and fs._cp_file is not AsyncFileSystem._cp_file


def _copy_one(transfer: Transfer, callback: Callback) -> None:
    source, target = transfer.source, transfer.target
    if source.fs is target.fs and not source.is_local and _copies_within(source):
        source.fs.cp_file(source.path, target.path)
        return
    child = _child(callback, transfer)
    if transfer.size is not None:
        child.set_size(transfer.size)
    with _reader(source) as reader:
        if target.is_stdio:
            _pump(reader, sys.stdout.buffer, child)
            sys.stdout.buffer.flush()
        elif target.is_local:
            _write_local(reader, target.path, child)
        else:
            with target.fs.open(target.path, "wb", size=transfer.size) as writer:
                _pump(reader, writer, child)


def _reader(source: Location) -> Any:
    if source.is_stdio:
        return open(sys.stdin.fileno(), "rb", closefd=False)
    return source.fs.open(source.path, "rb")


def _pump(reader: IO[bytes], writer: IO[bytes], callback: Callback) -> None:
    while chunk := reader.read(STREAM_CHUNK):
        writer.write(chunk)
        callback.relative_update(len(chunk))


def _write_local(reader: IO[bytes], path: str, callback: Callback) -> None:
    """Write to a partial file beside ``path``, renamed into place when complete and
    removed on any failure or interrupt."""
    partial = f"{path}.atai-partial-{uuid.uuid4().hex[:8]}"
    try:
        with open(partial, "wb") as out:
            _pump(reader, out, callback)
        os.replace(partial, path)
    finally:
        if os.path.exists(partial):
            os.remove(partial)


def _describe(result: UploadResult, path: str) -> str:
    """One Aionvision file's outcome, as the CLI prints it, the local file named as the
    user wrote it (``path``), not as the absolute path the upload was given."""
    if result.status == "uploaded":
        return f"uploaded {path} (id {result.image_id})"
    if result.status == "skipped":
        existing = f" of {result.existing_image_id}" if result.existing_image_id else ""
        return f"skipped {path}: duplicate{existing}"
    if result.status == "pending":
        return f"pending {path} (batch session {result.session_id})"
    return f"failed {path}: {result.error}"


def remove_source(transfer: Transfer) -> None:
    """``mv``: delete a source once its copy is complete."""
    source = transfer.source
    if source.is_stdio:
        return
    if transfer.whole_directory:
        shutil.rmtree(source.path)
    elif source.is_local:
        os.remove(source.path)
    else:
        source.fs.rm_file(source.path)


def remove_emptied(directories: Sequence[str]) -> None:
    """``mv`` of local directories: remove each one its moves left without files (one
    holding a file not moved, e.g. excluded, stays)."""
    for directory in directories:
        if os.path.isdir(directory) and not any(files for _, _, files in os.walk(directory)):
            shutil.rmtree(directory)
