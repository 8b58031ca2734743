"""The file commands of ``atai-fs``: cp, ls, rm, info, cat, on any registered URL.

Each command resolves its URLs with fsspec (``url_to_fs``), so every protocol atai_fs
registers works, with storage options from the environment or ``-o key=value``.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
from typing import Any

from fsspec.core import url_to_fs
from fsspec.implementations.local import LocalFileSystem

from ..engine.uploader import collect_left_resumable
from .progress import TransferProgress, human_size

__all__ = ["add_file_commands"]


def _is_remote(url: str) -> bool:
    protocol = url.split("://", 1)[0] if "://" in url else "file"
    return protocol not in ("file", "local")


def _storage_options(args: argparse.Namespace) -> dict[str, Any]:
    options: dict[str, Any] = {}
    for item in args.option or ():
        key, sep, value = item.partition("=")
        if not sep:
            raise ValueError(f"-o expects KEY=VALUE, got {item!r}")
        try:
            options[key] = json.loads(value)
        except ValueError:
            options[key] = value
    return options


def _progress(args: argparse.Namespace, total: int | None) -> TransferProgress | None:
    if args.quiet or not sys.stderr.isatty():
        return None
    return TransferProgress(total_bytes=total, stream=sys.stderr)


def cmd_cp(args: argparse.Namespace) -> int:
    """Copy; an interrupt ends the bars' lines and, where uploads were left resumable,
    says the command that resumes them."""
    from tqdm.contrib.logging import logging_redirect_tqdm

    bars: list[TransferProgress] = []
    # Warnings meanwhile (a retry, an upload left resumable) print above the bars.
    with collect_left_resumable() as left, logging_redirect_tqdm():
        try:
            return _copy(args, bars)
        except KeyboardInterrupt:
            for progress in bars:
                progress.finish()
            if left:
                command = shlex.join(["atai-fs", *getattr(args, "argv", ["cp", *args.paths])])
                print(
                    f"atai-fs: interrupted; {len(left)} upload(s) left resumable: run the same "
                    f"command again to resume: {command}",
                    file=sys.stderr,
                )
            raise
        finally:
            for progress in bars:
                progress.finish()


def _copy(args: argparse.Namespace, bars: list[TransferProgress]) -> int:
    sources, destination = args.paths[:-1], args.paths[-1]
    options = _storage_options(args)
    if not sources:
        raise ValueError("cp needs at least one source and a destination")
    if any(_is_remote(s) for s in sources) and _is_remote(destination):
        fs, _ = url_to_fs(destination, **options)
        fs.copy(sources, destination, recursive=args.recursive)
        return 0
    if _is_remote(destination):  # upload
        fs, _ = url_to_fs(destination, **options)
        local = LocalFileSystem()
        expanded = local.expand_path(sources, recursive=args.recursive)
        total = sum(os.path.getsize(p) for p in expanded if os.path.isfile(p))
        progress = _progress(args, total)
        bars.extend([progress] if progress else [])
        single = len(sources) == 1 and os.path.isfile(sources[0])
        if single and not destination.endswith("/"):
            callback = progress.single_file(sources[0]) if progress else None
            fs.put_file(sources[0], destination, **_callback(callback))
        else:
            what = sources[0] if len(sources) == 1 else sources  # fsspec's cp semantics
            fs.put(what, destination, recursive=args.recursive, **_callback(progress))
    else:  # download
        fs, _ = url_to_fs(sources[0], **options)
        expanded = fs.expand_path(sources, recursive=args.recursive)
        infos = [fs.info(p) for p in expanded]
        total = sum(i["size"] for i in infos if i["type"] == "file")
        progress = _progress(args, total)
        bars.extend([progress] if progress else [])
        single = len(infos) == 1 and infos[0]["type"] == "file"
        if single and not os.path.isdir(destination):
            callback = progress.single_file(sources[0]) if progress else None
            fs.get_file(sources[0], destination, **_callback(callback))
        else:
            what = sources[0] if len(sources) == 1 else sources
            fs.get(what, destination, recursive=args.recursive, **_callback(progress))
    return 0


def _callback(callback: Any) -> dict[str, Any]:
    return {"callback": callback} if callback is not None else {}


def cmd_ls(args: argparse.Namespace) -> int:
    fs, path = url_to_fs(args.url, **_storage_options(args))
    entries = fs.ls(path, detail=True)
    protocol = args.url.split("://", 1)[0] + "://" if "://" in args.url else ""
    for entry in sorted(entries, key=lambda e: e["name"]):
        suffix = "/" if entry["type"] == "directory" else ""
        name = entry["name"] + suffix
        if not args.long:
            short = entry["name"].rsplit("/", 1)[-1] + suffix
            print(f"{protocol}{name}" if args.full else short)
            continue
        size = "-" if entry["type"] == "directory" else _size(entry.get("size"), args)
        status = entry.get("file_status") or entry.get("status") or entry["type"]
        print(f"{size:>10}  {status:<24}  {protocol}{name}")
    return 0


def _size(size: int | None, args: argparse.Namespace) -> str:
    if size is None:  # e.g. a flow input still waiting for its upload
        return "-"
    return str(size) if args.bytes else human_size(size)


def cmd_rm(args: argparse.Namespace) -> int:
    fs, _ = url_to_fs(args.urls[0], **_storage_options(args))
    targets = fs.expand_path(args.urls, recursive=args.recursive)
    if not targets:
        raise FileNotFoundError(f"nothing matches {' '.join(args.urls)}")
    if not args.yes:
        if not sys.stdin.isatty():
            raise ValueError(
                f"refusing to delete {len(targets)} path(s) without confirmation; pass -y"
            )
        shown = ", ".join(targets[:5]) + (" ..." if len(targets) > 5 else "")
        answer = input(f"delete {len(targets)} path(s): {shown}? [y/N] ")
        if answer.strip().lower() not in ("y", "yes"):
            print("nothing deleted")
            return 1
    fs.rm(args.urls if len(args.urls) > 1 else args.urls[0], recursive=args.recursive)
    return 0


def cmd_info(args: argparse.Namespace) -> int:
    fs, path = url_to_fs(args.url, **_storage_options(args))
    print(json.dumps(fs.info(path), indent=2, sort_keys=True, default=str))
    return 0


def cmd_cat(args: argparse.Namespace) -> int:
    fs, path = url_to_fs(args.url, **_storage_options(args))
    out = sys.stdout.buffer
    with fs.open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            out.write(chunk)
    out.flush()
    return 0


def add_file_commands(commands: Any) -> None:
    """Register cp, ls, rm, info and cat on an argparse subparsers object."""

    def common(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
        parser.add_argument(
            "-o",
            "--option",
            action="append",
            metavar="KEY=VALUE",
            help="storage option for the filesystem (repeatable), e.g. -o endpoint_url=URL",
        )
        return parser

    cp = common(
        commands.add_parser(
            "cp",
            help="copy files between local paths and atai_fs URLs",
            description="Copy local files to a URL (upload), a URL to local paths (download), "
            "or within a filesystem. Globs are expanded; a trailing '/' on the destination "
            "means 'into this directory'.",
        )
    )
    cp.add_argument("paths", nargs="+", metavar="PATH", help="sources..., then destination")
    cp.add_argument("-r", "--recursive", action="store_true", help="copy directories")
    cp.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    cp.set_defaults(handler=cmd_cp)

    ls = common(commands.add_parser("ls", help="list files and directories"))
    ls.add_argument("url", help="e.g. atai://runs/")
    ls.add_argument("-l", "--long", action="store_true", help="sizes and status")
    ls.add_argument("--bytes", action="store_true", help="sizes in bytes (with -l)")
    ls.add_argument("--full", action="store_true", help="print full URLs")
    ls.set_defaults(handler=cmd_ls)

    rm = common(commands.add_parser("rm", help="delete files (asks first unless -y)"))
    rm.add_argument("urls", nargs="+", metavar="URL")
    rm.add_argument("-r", "--recursive", action="store_true", help="delete below a prefix")
    rm.add_argument("-y", "--yes", action="store_true", help="do not ask for confirmation")
    rm.set_defaults(handler=cmd_rm)

    info = common(commands.add_parser("info", help="print a file's metadata as JSON"))
    info.add_argument("url")
    info.set_defaults(handler=cmd_info)

    cat = common(commands.add_parser("cat", help="write a file's bytes to stdout"))
    cat.add_argument("url")
    cat.set_defaults(handler=cmd_cat)
