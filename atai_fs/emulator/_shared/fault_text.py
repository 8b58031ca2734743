"""The ``key=value,...`` text of a fault: what ``atai-fs serve --fault`` and the
emulators' ``faults=`` option take, and what :func:`format_fault` writes back.

Keys are the fault's field names, e.g. ``"route=storage_put,action=status,status=503,
probability=0.1,retry_after=1"`` or, for a one-minute storage outage five seconds after
the start, ``"route=storage_put,status=503,start=5,duration=60"``. ``retry_after`` may
be an HTTP date: its commas are kept (a piece without ``=`` continues the previous value).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # faults builds its faults from this module's parsing
    from .faults import BaseFault


def _number_or_text(raw: str) -> float | str:
    try:
        return float(raw)
    except ValueError:
        return raw


_FIELD_READERS: dict[str, Callable[[str], Any]] = {
    "status": int,
    "times": int,
    "nth": int,
    "delay": float,
    "probability": float,
    "retry_after": _number_or_text,
    "start": float,
    "duration": float,
}
"""How the text of each non-string field becomes its value."""


def parse_fields(text: str, fault_type: type[BaseFault]) -> dict[str, Any]:
    """The field values ``text`` gives, for building a ``fault_type``; a ``ValueError``
    that quotes ``text`` for any key that is unknown, repeated or not a number."""
    names = [field.name for field in dataclasses.fields(fault_type)]
    pairs: dict[str, str] = {}
    last: str | None = None
    for piece in text.split(","):
        key, eq, value = piece.partition("=")
        if not eq:
            if last is None or not piece.strip():
                raise ValueError(f"fault {text!r}: expected key=value, got {piece.strip()!r}")
            pairs[last] += "," + piece
            continue
        key = key.strip()
        if key not in names:
            raise ValueError(f"fault {text!r}: unknown key {key!r}; keys are {names}")
        if key in pairs:
            raise ValueError(f"fault {text!r}: {key!r} given twice")
        pairs[key] = value
        last = key
    if "route" not in pairs:
        example = fault_type.EXAMPLE_ROUTE
        raise ValueError(
            f"fault {text!r}: 'route' is required" + (f", e.g. route={example}" if example else "")
        )
    values: dict[str, Any] = {}
    for key, raw in pairs.items():
        raw = raw.strip()
        try:
            values[key] = _FIELD_READERS.get(key, str)(raw)
        except ValueError:
            raise ValueError(f"fault {text!r}: {key}={raw!r} is not a number") from None
    return values


def format_fault(fault: BaseFault) -> str:
    """The text of ``fault`` (fields left at their default omitted)."""
    parts = [f"route={fault.route}", f"action={fault.action}"]
    for field in dataclasses.fields(fault)[2:]:
        value = getattr(fault, field.name)
        if value != field.default:
            parts.append(f"{field.name}={value}")
    return ",".join(parts)
