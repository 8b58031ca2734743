"""The file commands of ``atai-fs``: cp, mv, rm, ls, du, info, cat, on any registered URL.

Each argument is resolved on its own (:mod:`atai_fs.cli.locations`), so every protocol
atai_fs registers works, local paths and URLs mix, and ``-`` is stdin or stdout.  A
command does everything it can, says on one line each thing it could not do, and exits 1
if there was any (:class:`~atai_fs.cli.exits.Problems`).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from typing import Any

from ..advice import for_cli
from ..engine.uploader import collect_left_resumable
from ..fs.base import UploadFileSystem
from .copying import CopyPlan, Filters, plan_copy, remove_emptied, remove_source, run_transfers
from .exits import Problems, UsageError
from .locations import Location, StorageOptions, expand, is_glob, shown_command
from .progress import TransferProgress, human_size

__all__ = ["add_file_commands"]


def _progress(args: argparse.Namespace, plan: CopyPlan) -> TransferProgress | None:
    if args.quiet or not sys.stderr.isatty():
        return None
    files = None if any(t.whole_directory for t in plan.transfers) else len(plan.transfers)
    return TransferProgress(total_bytes=plan.total_bytes, files=files, stream=sys.stderr)


def _locations(args: argparse.Namespace, texts: list[str]) -> list[Location]:
    options = StorageOptions(args.option)
    return [Location.parse(text, options) for text in texts]


def _copy_watched(args: argparse.Namespace, *, move: bool) -> int:
    """Copy (or move); an interrupt ends the bars' lines and, where uploads were left
    resumable, says the command that resumes them."""
    from tqdm.contrib.logging import logging_redirect_tqdm

    bars: list[TransferProgress] = []
    # Warnings meanwhile (a retry, a failed abort) print above the bars.
    with collect_left_resumable() as left, logging_redirect_tqdm():
        try:
            return _copy(args, bars, move=move)
        except KeyboardInterrupt as interruption:
            for progress in bars:
                progress.finish()
            if not left:
                raise
            command = shown_command(getattr(args, "argv", ["cp", *args.paths]))
            for note in left:  # each upload, by its id, below the closed bars
                print(f"atai-fs: {for_cli(note, command)}", file=sys.stderr)
            # The same kind (Ctrl-C or SIGTERM); the command to rerun was said above.
            raise type(interruption)(
                f"{len(left)} upload(s) left resumable, each said above"
            ) from interruption
        finally:
            for progress in bars:
                progress.finish()


def _copy(args: argparse.Namespace, bars: list[TransferProgress], *, move: bool) -> int:
    if len(args.paths) < 2:
        raise UsageError(f"{args.command} needs at least one source and a destination")
    *sources, destination = _locations(args, args.paths)
    problems = Problems()
    plan = plan_copy(
        sources,
        destination,
        recursive=move or args.recursive,
        filters=Filters(args.include or (), args.exclude or ()),
        problems=problems,
    )
    filters_given = bool(args.include or args.exclude)
    if filters_given and not plan.transfers and not problems.count:
        # As a glob that matches nothing: said, not an exit 0 that copied nothing.
        problems.add(
            f"nothing to {args.command}: no file under {', '.join(s.text for s in sources)} "
            "passed --include/--exclude"
        )
    if args.dry_run:
        verb = "move" if move else "copy"
        for transfer in plan.transfers:
            if isinstance(transfer.target.fs, UploadFileSystem) and not transfer.whole_directory:
                transfer.target.fs.check_name(transfer.target.path)  # refused as a run would
            print(f"would {verb} {transfer.source.text} -> {transfer.target.text}")
        return problems.exit_code
    to_stdout = destination.is_stdio
    progress = None if to_stdout else _progress(args, plan)
    bars.extend([progress] if progress else [])
    report = (lambda line: None) if args.quiet or to_stdout else print
    run_transfers(plan, progress, report, after_each=remove_source if move else None)
    if progress is not None:
        progress.finish()
    if move and not problems.count:
        remove_emptied(plan.source_directories)
    return problems.exit_code


def cmd_cp(args: argparse.Namespace) -> int:
    return _copy_watched(args, move=False)


def cmd_mv(args: argparse.Namespace) -> int:
    return _copy_watched(args, move=True)


def cmd_ls(args: argparse.Namespace) -> int:
    """List each URL; with more than one, each listing under its URL (as ``ls a b``)."""
    locations = _locations(args, args.urls)
    problems = Problems()
    for index, location in enumerate(locations):
        if len(locations) > 1:
            print(f"{'' if index == 0 else chr(10)}{location.text}:", flush=True)
        try:
            _list(location, args, problems)
        except FileNotFoundError as missing:  # said, and the other URLs still listed
            problems.add(str(missing).splitlines()[0] or f"no such file: {location.text}")
    return problems.exit_code


def _list(location: Location, args: argparse.Namespace, problems: Problems) -> None:
    """One URL's listing.  Names are the entries' own (``-R``: relative to the listed
    directory, as ``find`` and ``rclone ls`` print them); ``--full`` and ``-l`` give URLs."""
    base = location.path.rstrip("/")
    for entry in _entries(location, args.recursive, problems):
        suffix = "/" if entry["type"] == "directory" else ""
        name = entry["name"] + suffix
        if not args.long:
            if args.full:
                shown = location.url_of(name)
            elif args.recursive and base and name.startswith(base + "/"):
                shown = name[len(base) + 1 :]
            elif args.recursive and not base:
                shown = name
            else:
                shown = entry["name"].rsplit("/", 1)[-1] + suffix
            print(shown)
            continue
        size = "-" if entry["type"] == "directory" else _size(entry.get("size"), args)
        status = entry.get("file_status") or entry.get("status") or entry["type"]
        print(f"{size:>10}  {status:<24}  {location.url_of(name)}")


def _entries(location: Location, recursive: bool, problems: Problems) -> list[dict[str, Any]]:
    """What ``ls`` shows, sorted by name: a glob's matches, a whole tree (``-R``), or one
    directory's entries (a file's own entry)."""
    fs = location.fs
    if is_glob(location.path):
        matches = expand([location], problems)
        entries = [fs.info(match.path) for match in matches]
    elif recursive:
        found = fs.find(location.path, withdirs=True, detail=True)
        entries = [info for name, info in found.items() if name != location.path.rstrip("/")]
        if not entries and not location.is_directory():
            entries = fs.ls(location.path, detail=True)
    else:
        entries = fs.ls(location.path, detail=True)
    return sorted(entries, key=lambda e: str(e["name"]))


def _size(size: int | None, args: argparse.Namespace) -> str:
    if size is None:  # e.g. a flow input still waiting for its upload
        return "-"
    return str(size) if args.bytes else human_size(size)


def cmd_du(args: argparse.Namespace) -> int:
    problems = Problems()
    for location in expand(_locations(args, args.urls), problems):
        info = location.info()
        if info is None:
            problems.add(f"cannot access {location.text!r}: no such file or directory")
            continue
        if info["type"] == "directory":
            files = [
                i for i in location.fs.find(location.path, detail=True).values()
                if i.get("type") != "directory"
            ]  # fmt: skip
        else:
            files = [info]
        known = [i["size"] for i in files if i.get("size") is not None]
        total = sum(known)
        size = str(total) if args.bytes else human_size(total)
        unknown = len(files) - len(known)
        note = f" ({unknown} of unknown size)" if unknown else ""
        count = f"{len(files)} file{'s' if len(files) != 1 else ''}"
        print(f"{size:>10}  {count:>12}  {location.text}{note}")
    return problems.exit_code


def cmd_rm(args: argparse.Namespace) -> int:
    problems = Problems()
    chosen: list[tuple[Location, bool]] = []
    for location in expand(_locations(args, args.urls), problems):
        info = location.info()
        if info is None:
            problems.add(f"cannot remove {location.text!r}: no such file or directory")
        elif info["type"] == "directory" and not args.recursive:
            problems.add(f"cannot remove {location.text!r}: is a directory (use -r)")
        else:
            chosen.append((location, info["type"] == "directory"))
    files = [name for location, _ in chosen for name in _files_below(location)]
    if not files:
        return problems.exit_code
    if args.dry_run:
        for name in files:
            print(f"would delete {name}")
        return problems.exit_code
    if not args.yes and not _confirmed(files):
        return problems.exit_code or 1
    for location, is_directory in chosen:
        location.fs.rm(location.path, recursive=is_directory)
    return problems.exit_code


def _files_below(location: Location) -> Iterator[str]:
    """The URLs of the files ``rm`` deletes for ``location`` (itself, or all below it)."""
    if not location.is_directory():
        yield location.text
        return
    for name in sorted(location.fs.find(location.path)):
        yield location.url_of(name)


def _confirmed(files: list[str]) -> bool:
    """Ask on the terminal; with none to ask on, refuse (a script must say -y)."""
    if not sys.stdin.isatty():
        raise PermissionError(
            f"refusing to delete {len(files)} file(s) without confirmation; pass -y"
        )
    shown = ", ".join(files[:5]) + (" ..." if len(files) > 5 else "")
    answer = input(f"delete {len(files)} file(s): {shown}? [y/N] ")
    if answer.strip().lower() in ("y", "yes"):
        return True
    print("nothing deleted")
    return False


def cmd_info(args: argparse.Namespace) -> int:
    (location,) = _locations(args, [args.url])
    print(json.dumps(location.fs.info(location.path), indent=2, sort_keys=True, default=str))
    return 0


def cmd_cat(args: argparse.Namespace) -> int:
    problems = Problems()
    out = sys.stdout.buffer
    for location in expand(_locations(args, args.urls), problems):
        info = location.info()
        if info is None:
            problems.add(f"{location.text}: no such file or directory")
            continue
        if info["type"] == "directory":
            problems.add(f"{location.text}: is a directory")
            continue
        with location.fs.open(location.path, "rb") as f:
            while chunk := f.read(1 << 20):
                out.write(chunk)
        out.flush()
    return problems.exit_code


def add_file_commands(commands: Any, common: argparse.ArgumentParser) -> None:
    """Register the file commands on an argparse subparsers object; ``common`` holds the
    flags every command takes (``--debug``, ``-q``) in any position."""

    def command(name: str, **kwargs: Any) -> argparse.ArgumentParser:
        parser: argparse.ArgumentParser = commands.add_parser(name, parents=[common], **kwargs)
        parser.add_argument(
            "-o",
            "--option",
            action="append",
            metavar="KEY=VALUE",
            help="storage option (repeatable), e.g. -o endpoint_url=URL; "
            "-o PROTOCOL.KEY=VALUE for one protocol only",
        )
        return parser

    for name, verb in (("cp", "copy"), ("mv", "move")):
        copy = command(
            name,
            help=f"{verb} files between local paths and URLs (and between URLs)",
            description=f"{verb.capitalize()} local files to a URL, URLs to local paths, or "
            "between URLs (of one protocol or two). Globs are expanded; a destination that "
            "ends with '/' or is a directory receives each source under its own name; a "
            "source ending with '/' copies the directory's contents; '-' is stdin (source) "
            "or stdout (destination)."
            + (" mv deletes each source once its copy is complete." if name == "mv" else ""),
        )
        copy.add_argument("paths", nargs="+", metavar="PATH", help="sources..., then destination")
        copy.add_argument(
            "-r",
            "--recursive",
            action="store_true",
            help="copy directories"
            if name == "cp"
            else "accepted as in aws s3 mv / gsutil mv: mv moves directories anyway",
        )
        copy.add_argument(
            "--include", action="append", metavar="GLOB", help="copy only files matching it"
        )
        copy.add_argument(
            "--exclude", action="append", metavar="GLOB", help="skip files matching it"
        )
        copy.add_argument(
            "-n", "--dry-run", action="store_true", help="print what would be done, do nothing"
        )
        copy.set_defaults(handler=cmd_cp if name == "cp" else cmd_mv, recursive=False)

    ls = command(
        "ls",
        help="list files and directories",
        description="List a directory's entries (names; -l adds size and status, -R "
        "everything below, named from the directory), a file's own entry, or what a glob "
        "matches; several URLs are listed one after the other, each under its URL.",
    )
    ls.add_argument("urls", nargs="+", metavar="URL", help="e.g. atai://runs/ (globs allowed)")
    ls.add_argument("-l", "--long", action="store_true", help="sizes and status")
    ls.add_argument("-R", "--recursive", action="store_true", help="everything below")
    ls.add_argument("--bytes", action="store_true", help="sizes in bytes (with -l)")
    ls.add_argument("--full", action="store_true", help="print full URLs")
    ls.set_defaults(handler=cmd_ls)

    du = command(
        "du",
        help="total size and file count below URLs",
        description="For each URL (globs allowed), the total size and the number of files "
        "at or below it.",
    )
    du.add_argument("urls", nargs="+", metavar="URL", help="e.g. atai://runs/")
    du.add_argument("--bytes", action="store_true", help="sizes in bytes")
    du.set_defaults(handler=cmd_du)

    rm = command(
        "rm",
        help="delete files (asks first unless -y)",
        description="Delete files (globs allowed; a directory with -r). Asks on the "
        "terminal first; without a terminal, refuses unless -y is given.",
    )
    rm.add_argument("urls", nargs="+", metavar="URL", help="e.g. atai://runs/old.bin")
    rm.add_argument("-r", "--recursive", action="store_true", help="delete below a prefix")
    rm.add_argument("-y", "--yes", action="store_true", help="do not ask for confirmation")
    rm.add_argument(
        "-n", "--dry-run", action="store_true", help="print what would be deleted, do nothing"
    )
    rm.set_defaults(handler=cmd_rm)

    info = command(
        "info",
        help="print a file's metadata as JSON",
        description="Print the metadata the API holds for one file or directory, as JSON.",
    )
    info.add_argument("url", metavar="URL", help="e.g. atai://runs/big.bin")
    info.set_defaults(handler=cmd_info)

    cat = command(
        "cat",
        help="write files' bytes to stdout",
        description="Write the bytes of each file (globs allowed), in order, to stdout.",
    )
    cat.add_argument("urls", nargs="+", metavar="URL", help="e.g. atai://logs/run-1.jsonl")
    cat.set_defaults(handler=cmd_cat)
