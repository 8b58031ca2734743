"""Typed configuration: the engine's knobs, and the one way options become them.

Options reach a filesystem as constructor keywords, as ``storage_options`` (pandas,
Dask), from fsspec's config files and ``FSSPEC_<PROTOCOL>_<OPTION>`` variables (where
every value is a string), and from ``atai-fs -o key=value``.  :func:`coerce` turns any of
those forms into a frozen config object (``RetryPolicy``, ``RateLimit``, ``Timeouts``,
``TransferConfig``): the object itself, a dict of its fields, or a string (``"20/s"``,
``"attempts=3,deadline=60"``, a JSON object).  Every field is converted by its declared
type, and a misspelt name is refused naming the closest valid one.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import types
import typing
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar, Union

from ..errors import ConfigurationError
from .body import DEFAULT_CHUNK_SIZE
from .integrity import EtagMode
from .retry import RetryPolicy

__all__ = [
    "TransferConfig",
    "closest_hint",
    "coerce",
    "convert",
    "parse_flag",
    "parse_size",
    "plain_config",
    "refuse_unknown",
]

C = TypeVar("C")

_TRUE_WORDS = frozenset({"1", "true", "yes", "on"})
_FALSE_WORDS = frozenset({"0", "false", "no", "off", ""})
_SIZE_UNITS = {
    "kib": 1 << 10,
    "mib": 1 << 20,
    "gib": 1 << 30,
    "kb": 10**3,
    "mb": 10**6,
    "gb": 10**9,
    "k": 1 << 10,
    "m": 1 << 20,
    "g": 1 << 30,
    "b": 1,
}


def closest_hint(name: str, choices: Iterable[str]) -> str:
    """``"; did you mean 'x'?"`` for the valid name closest to ``name`` (or nothing)."""
    match = difflib.get_close_matches(name, list(choices), n=1, cutoff=0.6)
    return f"; did you mean {match[0]!r}?" if match else ""


def one_of(choices: Iterable[str]) -> str:
    """``'error', 'replace' or 'merge'``: the valid values of an option, for messages."""
    shown = [repr(choice) for choice in choices]
    return shown[0] if len(shown) == 1 else f"{', '.join(shown[:-1])} or {shown[-1]}"


def refuse_unknown(
    names: Iterable[str], valid: Iterable[str], where: str, *, unlisted: Iterable[str] = ()
) -> None:
    """Raise :class:`ConfigurationError` for the first of ``names`` not in ``valid``.

    ``unlisted`` are accepted but left out of the message's list of valid options: the
    generic options fsspec itself passes (``loop``, ``use_listings_cache``...), which
    would bury the ones a user is looking for."""
    allowed = set(valid) | set(unlisted)
    shown = sorted(set(valid) - set(unlisted))
    for name in names:
        if name not in allowed:
            raise ConfigurationError(
                f"unknown option {name!r} for {where}{closest_hint(name, sorted(allowed))} "
                f"(valid options: {', '.join(shown)})"
            )


def parse_flag(value: Any, option: str) -> bool:
    """A boolean option; the strings of config files and variables ("true"/"false",
    "yes"/"no", "on"/"off", "1"/"0") read as what they say."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        word = value.strip().lower()
        if word in _TRUE_WORDS or word in _FALSE_WORDS:
            return word in _TRUE_WORDS
    choices = "true, false or auto" if option == "verify_etag" else "true or false"
    raise ConfigurationError(f"{option} must be {choices}, got {value!r}")


def parse_etag_mode(value: Any) -> EtagMode:
    """``verify_etag``: ``"auto"``, or true/false in any of their spellings."""
    if isinstance(value, str) and value.strip().lower() == "auto":
        return "auto"
    return parse_flag(value, "verify_etag")


def parse_size(value: Any, option: str) -> int:
    """A byte count: an int, or a string such as ``8388608``, ``64KiB``, ``8MiB``, ``400MB``."""
    if isinstance(value, bool):
        raise ConfigurationError(f"{option} must be a number of bytes, got {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        text = value.strip().lower().replace("_", "")
        for suffix, factor in _SIZE_UNITS.items():
            if text.endswith(suffix) and text[: -len(suffix)].strip():
                number = text[: -len(suffix)].strip()
                try:
                    return int(float(number) * factor)
                except ValueError:
                    break
        try:
            return int(text)
        except ValueError:
            pass
    if _counts_bytes(option):
        raise ConfigurationError(
            f"{option} must be a whole number of bytes (or with a unit such as 8MiB), got {value!r}"
        )
    raise ConfigurationError(f"{option} must be a whole number, got {value!r}")


def _counts_bytes(option: str) -> bool:
    """Whether an integer option is a size (``chunk_size``, ``spool_threshold``...) rather
    than a count (``max_concurrency``, ``attempts``), for the words of its error."""
    name = option.rsplit(".", 1)[-1]
    return any(word in name for word in ("size", "threshold", "limit", "bytes"))


def _optional_inner(annotation: Any) -> Any | None:
    """``X`` for ``X | None`` (``Optional[X]``), else ``None``."""
    origin = typing.get_origin(annotation)
    if origin in (Union, types.UnionType):
        args = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
        if len(args) == 1 and len(typing.get_args(annotation)) == 2:
            return args[0]
    return None


def convert(value: Any, annotation: Any, option: str) -> Any:
    """``value`` as the declared type of a config field (strings from config files too)."""
    inner = _optional_inner(annotation)
    if inner is not None:
        if value is None or (isinstance(value, str) and value.strip().lower() in ("none", "")):
            return None
        return convert(value, inner, option)
    if annotation is bool:
        return parse_flag(value, option)
    if annotation is int:
        return parse_size(value, option)
    if annotation is float:
        if isinstance(value, bool):
            raise ConfigurationError(f"{option} must be a number, got {value!r}")
        try:
            return float(value)
        except (TypeError, ValueError):
            raise ConfigurationError(f"{option} must be a number, got {value!r}") from None
    if annotation is str:
        if not isinstance(value, str):
            raise ConfigurationError(f"{option} must be a string, got {value!r}")
        return value
    if isinstance(annotation, type) and dataclasses.is_dataclass(annotation):
        return coerce(annotation, value, option)
    return value


def _example(kind: type) -> str:
    """``'connect=30,api=120'``: two fields of ``kind`` with their defaults, for messages
    saying how its string form is written."""
    shown = [
        f"{f.name}={f.default:g}" if isinstance(f.default, float) else f"{f.name}={f.default}"
        for f in dataclasses.fields(kind)
        if f.init and f.repr and f.default not in (None, dataclasses.MISSING)
    ]
    return ",".join(shown[:2])


def _parse_fields(text: str, option: str, kind: type) -> dict[str, Any]:
    """``"a=1,b=2"`` or a JSON object, as a dict of strings (or JSON values)."""
    text = text.strip()
    if text.startswith("{"):
        try:
            data = json.loads(text)
        except ValueError:
            raise ConfigurationError(f"{option}: cannot read {text!r} as JSON") from None
        if not isinstance(data, dict):
            raise ConfigurationError(f"{option}: expected a JSON object, got {text!r}")
        return data
    fields: dict[str, Any] = {}
    for item in filter(None, (piece.strip() for piece in text.split(","))):
        key, sep, val = item.partition("=")
        if not sep:
            raise ConfigurationError(
                f"{option}: cannot read {item!r}; write fields as name=value, e.g. "
                f"{_example(kind)!r}"
            )
        fields[key.strip()] = val.strip()
    return fields


def coerce(kind: type[C], value: Any, option: str) -> C:
    """``value`` as a ``kind`` config object: the object, a dict of fields, or a string.

    A class may read its own shorthand strings with a ``parse`` classmethod (``RateLimit``
    reads ``"20/s,100/min"``) and numbers with ``from_number`` (``Timeouts(30)``).
    """
    if isinstance(value, kind):
        return value
    if isinstance(value, str):
        parse = getattr(kind, "parse", None)
        if parse is not None and "=" not in value and not value.strip().startswith("{"):
            parsed: C = parse(value)
            return parsed
        value = _parse_fields(value, option, kind)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        from_number = getattr(kind, "from_number", None)
        if from_number is not None:
            built: C = from_number(value)
            return built
    if not isinstance(value, Mapping):
        raise ConfigurationError(
            f"{option} must be its fields written name=value (e.g. {_example(kind)!r}), a "
            f"dict of them or a {kind.__name__}, got {value!r}"
        )
    if not dataclasses.is_dataclass(kind):  # pragma: no cover - programming error
        raise TypeError(f"{kind.__name__} is not a config dataclass")
    hints = typing.get_type_hints(kind)
    names = [f.name for f in dataclasses.fields(kind) if f.init]
    refuse_unknown(value, names, option)
    converted = {name: convert(val, hints[name], f"{option}.{name}") for name, val in value.items()}
    try:
        return kind(**converted)
    except (TypeError, ValueError) as exc:
        if isinstance(exc, ConfigurationError):
            raise
        raise ConfigurationError(f"{option}: {exc}") from None


def plain_config(value: Any) -> Any:
    """A config object as the dict :func:`coerce` reads back (fields shown in its repr,
    so no clock), recursively; anything else as it is."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            f.name: plain_config(getattr(value, f.name))
            for f in dataclasses.fields(value)
            if f.repr
        }
    return value


@dataclass(frozen=True)
class TransferConfig:
    """Knobs of the engine, shared by every upload of a filesystem.

    Part PUTs in flight per filesystem start at ``initial_concurrency`` (32: see
    :mod:`atai_fs.engine.concurrency` for why it is not lower) and, with
    ``adaptive`` (the default), grow while the throughput keeps rising and back off when
    the store or the path says it is overloaded, never beyond ``max_concurrency`` (the
    default fills a 10 Gbit/s path of 16 MB/s connections); ``adaptive=False`` pins them
    at ``max_concurrency`` (see :mod:`atai_fs.engine.concurrency`).  ``spool_threshold`` is
    the most a write keeps in memory before spilling to a temporary file in
    ``spool_dir``; a write of known size splits it among the parts it holds, so memory is
    bounded by ``spool_threshold`` plus the chunks being sent whatever the part size.
    At most ``chunk_size`` bytes are read from a source and sent at a time within a part,
    fewer when many parts are in flight (they share 16 MiB of chunks, see
    :data:`~atai_fs.engine.body.IN_FLIGHT_MEMORY`), so memory does not grow with the
    concurrency either.
    Resumable uploads checkpoint finished parts in batches of ``checkpoint_parts``
    (default: an eighth of the parts, at least 8) or every ``checkpoint_seconds``, never
    one call per part.  URLs expiring within ``url_refresh_margin`` seconds (or half
    their lifetime, if shorter) are refreshed before use.  ``verify_etag`` compares MD5
    ETags with the bytes sent (``"auto"``: until the storage shows its ETags are not
    MD5s; ``True``: always; ``False``: never; see :mod:`atai_fs.engine.integrity`).
    ``hash_in_threads`` runs the checksums of large chunks (MD5, CRC32C) in a worker
    thread beside the event loop (``None``: on machines with 4 cores or more, where it
    pays; see :func:`~atai_fs.engine.body.hashing_off_loop_pays`).
    ``retry`` is the one retry policy of every call and every part.
    """

    max_concurrency: int = 80
    initial_concurrency: int = 32
    adaptive: bool = True
    chunk_size: int = DEFAULT_CHUNK_SIZE
    spool_threshold: int = 8 << 20
    spool_dir: str | None = None
    checkpoint_parts: int | None = None
    checkpoint_seconds: float = 10.0
    url_refresh_margin: float = 60.0
    verify_etag: EtagMode = "auto"
    hash_in_threads: bool | None = None
    retry: RetryPolicy = field(default_factory=RetryPolicy)

    def __post_init__(self) -> None:
        object.__setattr__(self, "verify_etag", parse_etag_mode(self.verify_etag))
        if self.max_concurrency < 1:
            raise ConfigurationError("max_concurrency must be at least 1")
        if self.initial_concurrency < 1:
            raise ConfigurationError("initial_concurrency must be at least 1")
        if self.chunk_size < 1:
            raise ConfigurationError("chunk_size must be at least 1 byte")
        if self.spool_threshold < 0:
            raise ConfigurationError("spool_threshold must not be negative")
        if self.checkpoint_parts is not None and self.checkpoint_parts < 1:
            raise ConfigurationError("checkpoint_parts must be at least 1")
        if self.checkpoint_seconds <= 0 or self.url_refresh_margin < 0:
            raise ConfigurationError(
                "checkpoint_seconds must be positive and url_refresh_margin not negative"
            )

    @classmethod
    def option_names(cls) -> list[str]:
        """The storage options that set a field of this config."""
        return [f.name for f in dataclasses.fields(cls)]

    def with_options(self, options: Mapping[str, Any]) -> TransferConfig:
        """This config with some fields replaced, each converted by its declared type."""
        if not options:
            return self
        hints = typing.get_type_hints(type(self))
        refuse_unknown(options, self.option_names(), "TransferConfig")
        changes = {name: convert(value, hints[name], name) for name, value in options.items()}
        return dataclasses.replace(self, **changes)
