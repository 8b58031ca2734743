"""The ``atai-fs`` command: file commands, the emulator, the demo.

Exit codes (README's table): 0 everything asked was done; 1 something was not (one line
on stderr per thing, no traceback unless ``--debug``); 2 usage error, nothing attempted;
130 interrupted (Ctrl-C); 143 terminated (SIGTERM).  An interrupted transfer cleans up
first: an upload is aborted or left resumable (and says so), a download's partial file
is removed.  Output cut short by its reader (``| head``) is not an error.

Errors are written for Python users; each one's advice is shown in the command line's
words (:func:`atai_fs.advice.for_cli`): ``-o conflict=replace``, the command to rerun.
"""

from __future__ import annotations

import argparse
import difflib
import logging
import os
import signal
import sys
from collections.abc import Sequence
from typing import Any, NoReturn

from ..advice import for_cli
from ..errors import AtaiFsError
from .commands import add_file_commands
from .exits import ERROR, INTERRUPTED, OK, TERMINATED, USAGE, UsageError
from .locations import shown_command
from .serve import add_serve_command

__all__ = ["main"]


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where Ctrl-C would be, so that the same cleanup runs."""


def _terminate(signum: int, frame: Any) -> None:
    raise Terminated()


class _Parser(argparse.ArgumentParser):
    """Usage errors on one line (what is wrong, where to read more), exit 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(USAGE, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


class _CliWords(logging.Formatter):
    """Log lines (an interrupted upload's note) with their advice in the CLI's words."""

    def __init__(self, command: str) -> None:
        super().__init__("atai-fs: %(message)s")
        self.command = command

    def format(self, record: logging.LogRecord) -> str:
        return for_cli(super().format(record), self.command)


def _version() -> str:
    from .. import __version__

    return f"atai-fs {__version__}"


def _build_parser() -> argparse.ArgumentParser:
    common = _Parser(add_help=False)
    # SUPPRESS: a flag given before the command is not reset by the command's parser.
    common.add_argument(
        "--debug",
        action="store_true",
        default=argparse.SUPPRESS,
        help="show tracebacks and debug logs",
    )
    common.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        default=argparse.SUPPRESS,
        help="no progress bar and no per-file report",
    )
    parser = _Parser(
        prog="atai-fs",
        parents=[common],
        description="fsspec filesystems for upload APIs: tools and an offline emulator.",
    )
    parser.add_argument("--version", action="version", version=_version())
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    add_file_commands(commands, common)
    add_serve_command(commands, common)
    demo = commands.add_parser(
        "demo",
        parents=[common],
        help="write a DataFrame to an embedded emulator and read it back",
        description="Start an embedded emulator (no API key needed), write a pandas "
        "DataFrame with to_parquet('atai://...'), list it, read it back and compare.",
    )
    demo.add_argument("--rows", type=int, default=1_000_000, help="rows of the demo DataFrame")
    demo.set_defaults(handler=_demo)
    parser.set_defaults(command_parsers=commands.choices)
    return parser


def _refuse_unrecognized(parser: argparse.ArgumentParser, extras: Sequence[str]) -> NoReturn:
    """A usage error for what ``parser`` (the command's own) does not take, naming the
    closest option it does take (``--recursve``: did you mean --recursive?)."""
    first = extras[0]
    if not first.startswith("-") or first == "-":
        parser.error(f"unexpected argument {first!r}")
    flag = first.split("=", 1)[0]
    valid = [
        option
        for action in parser._actions  # argparse keeps no public list of a parser's flags
        for option in action.option_strings
        if action.help != argparse.SUPPRESS
    ]
    match = difflib.get_close_matches(flag, valid, n=1, cutoff=0.6)
    parser.error(f"unknown option {flag}" + (f"; did you mean {match[0]}?" if match else ""))


def _demo(args: argparse.Namespace) -> int:
    from ..demo import run_demo

    run_demo(rows=args.rows)
    return OK


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``atai-fs`` console script."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    command = shown_command(arguments)
    parser = _build_parser()
    args, extras = parser.parse_known_args(arguments)
    if extras:
        _refuse_unrecognized(args.command_parsers.get(args.command, parser), extras)
    del args.command_parsers
    args.argv = arguments  # to say the command again
    args.debug = getattr(args, "debug", False)
    args.quiet = getattr(args, "quiet", False)
    handler = logging.StreamHandler()
    handler.setFormatter(_CliWords(command))
    logging.basicConfig(level=logging.DEBUG if args.debug else logging.WARNING, handlers=[handler])
    previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        if hasattr(args, "check"):
            args.check(args)
        code = int(args.handler(args))
        sys.stdout.flush()  # inside the try: a reader gone away is handled below
        return code
    except UsageError as exc:
        if args.debug:
            raise
        usage = f"atai-fs {args.command}"
        print(f"{usage}: error: {for_cli(str(exc), command)} (see {usage} --help)", file=sys.stderr)
        return USAGE
    except BrokenPipeError:
        # The reader went away (``| head``): nothing more to say, and Python must not
        # fail flushing stdout at exit either.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return OK
    except KeyboardInterrupt as exc:
        what = "terminated" if isinstance(exc, Terminated) else "interrupted"
        # A command may have said what the interruption left (uploads to resume).
        print(f"atai-fs: {what}" + (f"; {exc}" if str(exc) else ""), file=sys.stderr)
        return TERMINATED if isinstance(exc, Terminated) else INTERRUPTED
    except NotImplementedError:
        if args.debug:
            raise
        print(
            f"atai-fs: error: {args.command} is not available for this URL: its API offers "
            "no such operation (upload-only targets have no listing or reading)",
            file=sys.stderr,
        )
        return ERROR
    except Exception as exc:
        if args.debug:
            raise
        print(f"atai-fs: error: {_one_line(exc, command)}", file=sys.stderr)
        return ERROR
    finally:
        signal.signal(signal.SIGTERM, previous)


def _one_line(exc: Exception, command: str) -> str:
    """The error as one line in the CLI's words; an unexpected kind says how to see more."""
    expected = isinstance(exc, (AtaiFsError, OSError, ValueError, ImportError))
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    hint = "" if expected else f" ({type(exc).__name__}; run with --debug for details)"
    return for_cli(text, command) + hint
