"""What the paths on an ``atai-fs`` command line name: a local path, a URL, or ``-``.

Each argument is resolved on its own (``cp ./a.txt atai://x/ sandbox://...`` mixes
filesystems), with the storage options of ``-o key=value`` that apply to its protocol:
``-o key=value`` applies to every remote filesystem of the command, ``-o
PROTOCOL.key=value`` to that protocol's only (two APIs, two keys).
"""

from __future__ import annotations

import json
import os
import shlex
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from fsspec import AbstractFileSystem, available_protocols
from fsspec.core import url_to_fs
from fsspec.implementations.local import LocalFileSystem

from ..engine.config import closest_hint
from ..errors import ConfigurationError
from ..fs.base import FSSPEC_OPTIONS
from .exits import Problems, UsageError

__all__ = ["STDIO", "Location", "StorageOptions", "expand", "is_glob"]

#: The argument naming standard input (as a source) or standard output (as a destination).
STDIO = "-"


class StorageOptions:
    """The ``-o`` options of a command, split by the protocol they apply to."""

    def __init__(self, items: Iterable[str] | None) -> None:
        self._common: dict[str, Any] = {}
        self._by_protocol: dict[str, dict[str, Any]] = {}
        for item in items or ():
            key, sep, value = item.partition("=")
            if not sep or not key:
                # Not echoed: what was given may be a key pasted without its name.
                raise UsageError("-o expects KEY=VALUE (e.g. -o api_key=...), got no KEY=")
            protocol, dot, name = key.partition(".")
            if dot:
                _check_protocol(protocol, key)
            if (name if dot else key) in FSSPEC_OPTIONS:
                # fsspec's own plumbing (an event loop, listings caches): meaningful to a
                # program that builds filesystems, never to one command.
                raise UsageError(
                    f"-o {key}=...: {name if dot else key!r} is fsspec's own setting, not "
                    "an option of a command (see the protocol's options in README)"
                )
            options = self._by_protocol.setdefault(protocol, {}) if dot else self._common
            options[name if dot else key] = _value(value)

    def for_protocol(self, protocol: str) -> dict[str, Any]:
        return {**self._common, **self._by_protocol.get(protocol, {})}


#: The protocols atai_fs registers (``fsspec.specs`` entry points), suggested first.
OWN_PROTOCOLS = ("atai", "flow", "sandbox", "aionvision")


def _closest_protocol(protocol: str) -> str:
    """``; did you mean 'atai'?``: one of ours if one is close, else any fsspec knows."""
    return closest_hint(protocol, OWN_PROTOCOLS) or closest_hint(protocol, available_protocols())


def _check_protocol(protocol: str, key: str) -> None:
    """Refuse ``-o PROTOCOL.KEY=VALUE`` whose prefix names no protocol: it would apply to
    nothing, silently (``-o retry.attempts=3`` meant ``-o retry=attempts=3``)."""
    if protocol not in available_protocols():
        raise UsageError(
            f"-o {key}=...: {protocol!r} is not a protocol{_closest_protocol(protocol)} "
            f"(-o PROTOCOL.KEY=VALUE sets KEY for PROTOCOL:// only; a nested option is "
            f"written -o {protocol}=KEY=VALUE)"
        )


def _value(text: str) -> Any:
    """A JSON value where the text is one (``4``, ``true``, ``{"attempts": 3}``), else the text."""
    try:
        return json.loads(text)
    except ValueError:
        return text


@dataclass(frozen=True)
class Location:
    """One path on one filesystem, and the text the user wrote for it (for messages)."""

    fs: AbstractFileSystem
    path: str
    text: str

    @classmethod
    def parse(cls, text: str, options: StorageOptions) -> Location:
        if text == STDIO:
            return cls(LocalFileSystem(), STDIO, text)
        protocol = text.split("://", 1)[0] if "://" in text else "file"
        if protocol in ("file", "local"):
            path = text.split("://", 1)[1] if "://" in text else text
            return cls(LocalFileSystem(), os.path.abspath(os.path.expanduser(path)), text)
        if protocol not in available_protocols():
            raise UsageError(
                f"unknown protocol {protocol + '://'!r} in {text!r}"
                f"{_closest_protocol(protocol)} (atai_fs registers "
                f"{', '.join(p + '://' for p in OWN_PROTOCOLS)})"
            )
        try:
            fs, path = url_to_fs(text, **options.for_protocol(protocol))
        except ConfigurationError as exc:
            # A misspelt or ill-typed storage option (of -o or of the environment) is
            # refused when the filesystem is made: before anything is attempted.
            raise UsageError(str(exc)) from exc
        return cls(fs, path, text)

    @property
    def is_stdio(self) -> bool:
        return self.path == STDIO

    @property
    def is_local(self) -> bool:
        return isinstance(self.fs, LocalFileSystem)

    @property
    def names_a_directory(self) -> bool:
        """Whether the user wrote a trailing ``/`` (``atai://runs/``: into, or contents of)."""
        return self.text.endswith("/")

    def at(self, path: str) -> Location:
        """Another path on the same filesystem, shown as its URL; a local path below
        this one is shown from what the user wrote (``../data/a.csv`` stays relative)."""
        if self.is_local and not self.is_stdio and path != self.path:
            base = self.path.rstrip(os.sep) + os.sep
            if path.startswith(base):
                return Location(self.fs, path, os.path.join(self.text, path[len(base) :]))
        return Location(self.fs, path, self.url_of(path))

    def url_of(self, path: str) -> str:
        """``path`` as the user would write it: a local path, or ``PROTOCOL://path``."""
        if self.is_local:
            return path
        protocol = self.fs.protocol
        return f"{protocol if isinstance(protocol, str) else protocol[0]}://{path}"

    def join(self, *names: str) -> str:
        """``path/name/...`` in this filesystem's separators."""
        separator = os.sep if self.is_local else "/"
        parts = [self.path.rstrip("/\\")] if self.path.rstrip("/\\") else []
        parts += [name.strip("/") for name in names if name.strip("/")]
        joined = separator.join(parts)
        return joined if joined or not self.is_local else separator

    @property
    def is_readable(self) -> bool:
        """Whether the filesystem can read or list (an upload-only API cannot)."""
        return bool(getattr(type(self.fs), "readable", True))

    def info(self) -> dict[str, Any] | None:
        """The path's fsspec info, or ``None`` when nothing is there.  An upload-only
        API cannot tell: its refusal (``sandbox:// is write-only``) is raised, never
        taken for "no such file"."""
        try:
            info: dict[str, Any] = self.fs.info(self.path)
        except FileNotFoundError:
            if not self.is_readable:
                raise
            return None
        return info

    def is_directory(self) -> bool:
        """Whether a directory is there (a write-only API's never is: names imply them)."""
        if not self.is_readable:
            return False
        info = self.info()
        return info is not None and info.get("type") == "directory"


def is_glob(path: str) -> bool:
    """Whether ``path`` has glob characters (``*``, ``?``, ``[``), as fsspec's ``glob``
    reads them."""
    return any(character in path for character in "*?[")


def expand(locations: Sequence[Location], problems: Problems) -> list[Location]:
    """Each location, with globs expanded; a glob matching nothing is a problem."""
    expanded: list[Location] = []
    for location in locations:
        if location.is_stdio or not is_glob(location.path):
            expanded.append(location)
            continue
        matches = sorted(location.fs.glob(location.path))
        if not matches:
            problems.add(f"no match for {location.text!r}")
        expanded += [location.at(match) for match in matches]
    return expanded


def basename(path: str) -> str:
    """The last name of a path, whatever its separators."""
    return path.rstrip("/\\").replace("\\", "/").rsplit("/", 1)[-1]


#: Storage options whose values are secrets: never echoed in a command shown back.
_SECRET_OPTIONS = ("api_key", "token", "password", "secret")
_HIDDEN = "..."


def shown_command(arguments: Iterable[str]) -> str:
    """The command line as typed, to be run again, with every secret's value hidden:
    ``-o api_key=KEY`` and ``--api-key KEY`` show ``...`` (the key is the user's to
    supply again, from where it came; ``***`` would need shell quotes)."""
    shown: list[str] = []
    hide_next = False
    for argument in arguments:
        if hide_next:
            shown.append(_HIDDEN)
            hide_next = False
            continue
        key, sep, _ = argument.partition("=")
        name = key.rsplit(".", 1)[-1].lstrip("-").replace("-", "_")
        if any(name.endswith(secret) for secret in _SECRET_OPTIONS):
            if sep:
                shown.append(f"{key}={_HIDDEN}")
                continue
            hide_next = argument.startswith("--")
        shown.append(argument)
    return shlex.join(["atai-fs", *shown])
