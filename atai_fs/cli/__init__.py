"""The ``atai-fs`` command: file commands, the emulator, the demo.

Exit codes: 0 success, 1 error (one line on stderr, no traceback unless ``--debug``),
2 usage error (argparse's own).
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from ..errors import AtaiFsError
from .commands import add_file_commands

__all__ = ["main"]


def _size(text: str) -> int:
    """Parse a byte size such as ``8388608``, ``64KiB``, ``8MiB`` or ``400MB``."""
    units = {"kib": 1 << 10, "mib": 1 << 20, "gib": 1 << 30, "kb": 10**3, "mb": 10**6, "gb": 10**9}
    lowered = text.strip().lower()
    for suffix, factor in units.items():
        if lowered.endswith(suffix):
            return int(float(lowered[: -len(suffix)]) * factor)
    try:
        return int(lowered)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a size: {text!r} (try 8MiB)") from None


#: ``atai-fs serve API`` -> the module and function serving that emulator.
_EMULATORS = {
    "atai": ("atai_fs.emulator.atai", "serve"),
    "flow": ("atai_fs.emulator.flow", "serve_flow"),
    "sandbox": ("atai_fs.emulator.sandbox", "serve_sandbox"),
    "aionvision": ("atai_fs.emulator.aionvision", "serve_aionvision"),
}


def _serve(args: argparse.Namespace) -> None:
    """Run the chosen emulator with the options given on the command line (only)."""
    import importlib
    import inspect
    import json

    module_name, function_name = _EMULATORS[args.api]
    serve = getattr(importlib.import_module(module_name), function_name)
    skip = {"command", "debug", "api", "set", "fault", "storage", "s3_endpoint", "argv"}
    options = {k: v for k, v in vars(args).items() if k not in skip and v is not None}
    if args.storage is not None:
        options.update(_storage_location(args.storage))
    if args.s3_endpoint is not None:
        options["s3_endpoint_url"] = args.s3_endpoint
    if args.fault:
        options["faults"] = args.fault  # parse_fault strings
    for item in args.set:
        key, sep, value = item.partition("=")
        if not sep:
            raise ValueError(f"--set expects KEY=VALUE, got {item!r}")
        try:
            options[key.replace("-", "_")] = json.loads(value)
        except ValueError:
            options[key.replace("-", "_")] = value
    emulator_class = inspect.signature(serve)
    if not any(p.kind is p.VAR_KEYWORD for p in emulator_class.parameters.values()):
        raise RuntimeError(f"{module_name}.{function_name} must accept **options")
    try:
        serve(**options)
    except TypeError as exc:
        if "unexpected keyword" in str(exc):
            raise ValueError(f"the {args.api} emulator does not take that option: {exc}") from None
        raise


def _storage_location(text: str) -> dict[str, str]:
    """``--storage local`` or ``--storage s3://BUCKET[/PREFIX]`` as emulator options."""
    if text == "local":
        return {"storage": "local"}
    scheme, sep, rest = text.partition("://")
    bucket, _, prefix = rest.partition("/")
    if scheme != "s3" or not sep or not bucket:
        raise ValueError(f"--storage takes 'local' or 's3://BUCKET[/PREFIX]', got {text!r}")
    options = {"storage": "s3", "bucket": bucket}
    if prefix.strip("/"):
        options["s3_prefix"] = prefix.strip("/") + "/"
    return options


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="atai-fs",
        description="fsspec filesystems for upload APIs: tools and an offline emulator.",
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks and debug logs")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    add_file_commands(commands)

    serve = commands.add_parser(
        "serve",
        help="run an emulator (Files API by default) in the foreground",
        description="Run an emulator of an upload API on this machine, for offline tests "
        "of pipelines: the Archetype AI Files API (atai, the default), a flow engine's "
        "presigned inputs (flow), sandbox upload sessions (sandbox) or the Aionvision "
        "uploads API (aionvision). Point clients at the printed endpoint URL. Options a "
        "given emulator does not have are refused.",
    )
    serve.add_argument(
        "api", nargs="?", default="atai", choices=sorted(_EMULATORS), help="which API"
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default loopback)")
    serve.add_argument("--port", type=int, help="port (0 = any; default per API, atai 8765)")
    serve.add_argument("--data-dir", help="where files persist (default: a temporary dir)")
    serve.add_argument("--api-key", help="the key clients must send")
    serve.add_argument("--part-size", type=_size, help="part size of upload plans (atai: 8MiB)")
    serve.add_argument("--part-number-base", type=int, choices=(0, 1), help="first part number")
    serve.add_argument("--url-lifetime", type=float, help="presigned URL lifetime, seconds")
    serve.add_argument(
        "--integrity-algorithm",
        choices=("none", "crc32c"),
        help="whole-file checksum announced at initiate and checked at complete (atai)",
    )
    serve.add_argument("--max-page-size", type=int, help="cap on metadata page size (atai)")
    serve.add_argument(
        "--profile",
        choices=("default", "strict"),
        help="atai: 'strict' answers every open point of the spec the hardest way (opaque "
        "ETags, no Range, redirected downloads, 429s without Retry-After, 30 s URLs, "
        "2-file pages); other options given win",
    )
    serve.add_argument(
        "--storage",
        metavar="local|s3://BUCKET[/PREFIX]",
        help="atai: where parts and files live: the data dir (local, the default) or a real "
        "S3-compatible bucket (needs atai-fs[s3]; credentials from the AWS variables)",
    )
    serve.add_argument(
        "--s3-endpoint",
        metavar="URL",
        help="atai: the S3-compatible endpoint of --storage s3://... (MinIO, LocalStack); "
        "default AWS S3",
    )
    serve.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="any other emulator option (value read as JSON when it parses), e.g. --set tier=pro",
    )
    network = serve.add_argument_group("network shaping (behave like a distant service)")
    network.add_argument("--latency", type=float, help="seconds added per request")
    network.add_argument("--put-bandwidth", type=_size, help="bytes/s cap per PUT (e.g. 16MB)")
    network.add_argument("--link-bandwidth", type=_size, help="bytes/s cap shared by all PUTs")
    faults = serve.add_argument_group("faults (seeded, so failures reproduce)")
    faults.add_argument(
        "--fault",
        action="append",
        default=[],
        metavar="SPEC",
        help="inject a fault, e.g. 'route=storage_put,action=status,status=503,"
        "probability=0.1,retry_after=1', or a one-minute outage 5 s after the start: "
        "'route=storage_put,status=503,start=5,duration=60' (repeatable)",
    )
    faults.add_argument("--seed", type=int, help="seed of probabilistic faults")
    faults.add_argument(
        "--rate-limit",
        action="store_true",
        default=None,
        help="enforce the documented rate limits (429 + Retry-After)",
    )
    faults.add_argument("--rate-limit-per-minute", type=int)
    faults.add_argument("--rate-limit-burst-per-second", type=int)
    faults.add_argument(
        "--ignore-range",
        action="store_true",
        default=None,
        help="answer ranged downloads with 200 + all (atai)",
    )
    faults.add_argument(
        "--redirect-downloads",
        action="store_true",
        default=None,
        help="redirect downloads to presigned storage URLs (atai)",
    )

    demo = commands.add_parser(
        "demo",
        help="write a DataFrame to an embedded emulator and read it back",
        description="Start an embedded emulator (no API key needed), write a pandas "
        "DataFrame with to_parquet('atai://...'), list it, read it back and compare.",
    )
    demo.add_argument("--rows", type=int, default=1_000_000, help="rows of the demo DataFrame")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``atai-fs`` console script."""
    args = _build_parser().parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)  # to say the command again
    logging.basicConfig(level=logging.DEBUG if args.debug else logging.WARNING)
    try:
        if hasattr(args, "handler"):
            return int(args.handler(args))
        if args.command == "serve":
            _serve(args)
        elif args.command == "demo":
            from ..demo import run_demo

            run_demo(rows=args.rows)
        return 0
    except KeyboardInterrupt:
        return 130
    except NotImplementedError:
        if args.debug:
            raise
        print(
            f"atai-fs: error: {args.command} is not available for this URL: its API offers "
            "no such operation (upload-only targets have no listing or reading)",
            file=sys.stderr,
        )
        return 1
    except Exception as exc:
        if args.debug:
            raise
        expected = isinstance(exc, (AtaiFsError, OSError, ValueError, ImportError))
        message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        hint = "" if expected else f" ({type(exc).__name__}; run with --debug for details)"
        print(f"atai-fs: error: {message}{hint}", file=sys.stderr)
        return 1
