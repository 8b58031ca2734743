"""``atai-fs serve [API]``: an emulator in the foreground.

The flags are those of every emulator together; the options of the one chosen are
checked when the command line is read, so ``serve flow --part-size 1MiB`` is a usage
error naming what the flow emulator does take, not a failure at start.  Without
``--api-key`` an emulator that checks keys gets a random one (printed with the
``export`` line to paste), so a server on a laptop never accepts a documented default.
"""

from __future__ import annotations

import argparse
import dataclasses
import difflib
import importlib
import inspect
import json
import secrets
from typing import Any

from ..engine.config import parse_size
from ..errors import ConfigurationError
from .exits import UsageError

__all__ = ["add_serve_command", "serve"]

#: ``atai-fs serve API`` -> the module, the foreground function and the emulator class.
_EMULATORS = {
    "atai": ("atai_fs.emulator.atai", "serve", "ATAIEmulator"),
    "flow": ("atai_fs.emulator.flow", "serve_flow", "FlowEmulator"),
    "sandbox": ("atai_fs.emulator.sandbox", "serve_sandbox", "SandboxEmulator"),
    "aionvision": ("atai_fs.emulator.aionvision", "serve_aionvision", "AionVisionEmulator"),
}

#: Flags whose emulator option has another name.
_OPTION_OF_FLAG = {"fault": "faults", "s3_endpoint": "s3_endpoint_url"}
#: Flags of the command itself, not options of an emulator.
_NOT_OPTIONS = frozenset(
    {"command", "debug", "quiet", "api", "set", "handler", "check", "emulator_options", "argv"}
)


def _size(text: str) -> int:
    """Parse a byte size such as ``8388608``, ``64KiB``, ``8MiB`` or ``400MB``."""
    try:
        return parse_size(text, "size")
    except ConfigurationError:
        raise argparse.ArgumentTypeError(f"not a size: {text!r} (try 8MiB)") from None


def _emulator_options(api: str) -> list[str]:
    """Every option the ``api`` emulator takes: its configuration's fields and its
    constructor's keywords."""
    module_name, _, class_name = _EMULATORS[api]
    emulator = getattr(importlib.import_module(module_name), class_name)
    names = {f.name for f in dataclasses.fields(emulator._config_type) if f.init}
    for klass in emulator.__mro__:
        if "__init__" in vars(klass):
            names |= {
                p.name
                for p in inspect.signature(klass.__init__).parameters.values()
                if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and p.name != "self"
            }
    return sorted(names - {"clock"})


def _options(args: argparse.Namespace) -> dict[str, Any]:
    """The emulator options of the command line, each checked against the chosen API."""
    valid = _emulator_options(args.api)
    flags = {name for name in vars(args) if name not in _NOT_OPTIONS}
    options: dict[str, Any] = {}
    for flag, value in vars(args).items():
        if flag in _NOT_OPTIONS or value is None or value == []:
            continue
        if flag == "storage":
            options.update(_storage_location(value))
            continue
        option = _OPTION_OF_FLAG.get(flag, flag)
        if option not in valid:
            raise UsageError(
                f"the {args.api} emulator takes no --{flag.replace('_', '-')}"
                f"{_suggestion(option, valid, flags)} (its options: {', '.join(valid)})"
            )
        options[option] = value
    for item in args.set:
        key, sep, text = item.partition("=")
        name = key.strip().replace("-", "_")
        if not sep or not name:
            raise UsageError(f"--set expects KEY=VALUE, got {item!r}")
        if name not in valid:
            raise UsageError(
                f"the {args.api} emulator has no option {name!r}"
                f"{_suggestion(name, valid, flags)} (its options: {', '.join(valid)})"
            )
        try:
            options[name] = json.loads(text)
        except ValueError:
            options[name] = text
    if "api_key" in valid and "api_key" not in options:
        options["api_key"] = secrets.token_urlsafe(24)
    return options


def _suggestion(name: str, valid: list[str], flags: set[str]) -> str:
    """``; did you mean --url-lifetime?`` (or ``--set NAME=...`` for an option without a
    flag of its own), for the valid option closest to ``name``; else nothing."""
    match = difflib.get_close_matches(name, valid, n=1, cutoff=0.6)
    if not match:
        return ""
    closest = match[0]
    flag = f"--{closest.replace('_', '-')}" if closest in flags else f"--set {closest}=..."
    return f"; did you mean {flag}?"


def _storage_location(text: str) -> dict[str, str]:
    """``--storage local`` or ``--storage s3://BUCKET[/PREFIX]`` as emulator options."""
    if text == "local":
        return {"storage": "local"}
    scheme, sep, rest = text.partition("://")
    bucket, _, prefix = rest.partition("/")
    if scheme != "s3" or not sep or not bucket:
        raise UsageError(f"--storage takes 'local' or 's3://BUCKET[/PREFIX]', got {text!r}")
    options = {"storage": "s3", "bucket": bucket}
    if prefix.strip("/"):
        options["s3_prefix"] = prefix.strip("/") + "/"
    return options


def check(args: argparse.Namespace) -> None:
    """Refuse, as a usage error, the options the chosen emulator does not take."""
    args.emulator_options = _options(args)


def serve(args: argparse.Namespace) -> int:
    """Run the chosen emulator until Ctrl-C or SIGTERM."""
    module_name, function_name, _ = _EMULATORS[args.api]
    run = getattr(importlib.import_module(module_name), function_name)
    run(**args.emulator_options)
    return 0


def add_serve_command(commands: Any, common: argparse.ArgumentParser) -> None:
    serve_parser = commands.add_parser(
        "serve",
        parents=[common],
        help="run an emulator (Files API by default) in the foreground",
        description="Run an emulator of an upload API on this machine, for offline tests "
        "of pipelines: the Archetype AI Files API (atai, the default), a flow engine's "
        "presigned inputs (flow), sandbox upload sessions (sandbox) or the Aionvision "
        "uploads API (aionvision). It prints its endpoint and an 'export' line of the "
        "clients' variables to paste; without --api-key it makes up a random key. Options "
        "a given emulator does not have are refused. Stops on Ctrl-C or SIGTERM, removing "
        "its temporary data directory.",
    )
    serve_parser.add_argument(
        "api", nargs="?", default="atai", choices=sorted(_EMULATORS), help="which API"
    )
    add = serve_parser.add_argument
    add("--host", default="127.0.0.1", help="address to bind (default loopback)")
    add("--port", type=int, help="port (0 = any; default per API, atai 8765)")
    add("--data-dir", help="where files persist (default: a temporary dir)")
    add("--api-key", help="the key clients must send (default: a random one, printed)")
    add("--access-log", action="store_true", default=None, help="print one line per request")
    add("--part-size", type=_size, help="part size of upload plans (atai: 8MiB)")
    add("--part-number-base", type=int, choices=(0, 1), help="first part number")
    add("--url-lifetime", type=float, help="presigned URL lifetime, seconds")
    add(
        "--integrity-algorithm",
        choices=("none", "crc32c"),
        help="whole-file checksum announced at initiate and checked at complete (atai)",
    )
    add("--max-page-size", type=int, help="cap on metadata page size (atai)")
    add(
        "--profile",
        choices=("default", "strict"),
        help="atai: 'strict' answers every open point of the spec the hardest way (opaque "
        "ETags, no Range, redirected downloads, 429s without Retry-After, 30 s URLs, "
        "2-file pages); other options given win",
    )
    add(
        "--storage",
        metavar="local|s3://BUCKET[/PREFIX]",
        help="atai: where parts and files live: the data dir (local, the default) or a real "
        "S3-compatible bucket (needs atai-fs[s3]; credentials from the AWS variables)",
    )
    add(
        "--s3-endpoint",
        metavar="URL",
        help="atai: the S3-compatible endpoint of --storage s3://... (MinIO, LocalStack); "
        "default AWS S3",
    )
    add(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="any other option of the chosen emulator (value read as JSON when it parses), "
        "e.g. 'atai --set etag_style=opaque' or 'aionvision --set tier=professional'",
    )
    network = serve_parser.add_argument_group("network shaping (behave like a distant service)")
    network.add_argument("--latency", type=float, help="seconds added per request")
    network.add_argument("--put-bandwidth", type=_size, help="bytes/s cap per PUT (e.g. 16MB)")
    network.add_argument("--link-bandwidth", type=_size, help="bytes/s cap shared by all PUTs")
    faults = serve_parser.add_argument_group("faults (seeded, so failures reproduce)")
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
    serve_parser.set_defaults(handler=serve, check=check)
