"""What an error tells its reader to do, written once in Python's words, shown in the CLI's.

Messages are built for Python users (``str(exc)`` is what a notebook shows), but the same
errors reach ``atai-fs`` users, for whom "pass conflict='replace'" means
``-o conflict=replace`` and "run the same put_file again" means the command they typed.
Every such piece of advice is written with one of the functions below, and
:func:`for_cli` turns exactly the forms they produce (each pattern sits beside its
producer) into the command line's words.  Nothing else in a message is rewritten.
"""

from __future__ import annotations

import re
from typing import Any

__all__ = ["call", "for_cli", "in_pandas", "pass_options", "rerun"]


def pass_options(*choices: tuple[str, Any]) -> str:
    """``pass conflict='replace' or conflict='merge'``; on the command line
    ``pass -o conflict=replace or -o conflict=merge``.  A value of ``...`` stands for
    the user's own (``api_key=...``)."""
    return "pass " + " or ".join(_keyword(name, value) for name, value in choices)


def _keyword(name: str, value: Any) -> str:
    return f"{name}=..." if value is ... else f"{name}={value!r}"


_KEYWORD = r"[a-z][a-z0-9_]*=(?:'[^']*'|\.\.\.|[\w.-]+)"
_PASS_OPTIONS = re.compile(rf"\bpass ({_KEYWORD}(?: or {_KEYWORD})*)")
_ONE_KEYWORD = re.compile(r"([a-z][a-z0-9_]*)=(?:'([^']*)'|(\.\.\.|[\w.-]+))")


def _options_for_cli(match: re.Match[str]) -> str:
    def option(keyword: re.Match[str]) -> str:
        value = keyword.group(2) if keyword.group(2) is not None else keyword.group(3)
        return f"-o {keyword.group(1)}={value}"

    return "pass " + _ONE_KEYWORD.sub(option, match.group(1))


def in_pandas(name: str) -> str:
    """`` (storage_options={'api_key': ...} in pandas and Dask)``: where a library caller
    puts an option; on the command line nothing (``-o`` already says it)."""
    return f" (storage_options={{{name!r}: ...}} in pandas and Dask)"


_IN_PANDAS = re.compile(r" \(storage_options=\{'[a-z_]+': \.\.\.\} in pandas and Dask\)")


def rerun(call_name: str) -> str:
    """``run the same put_file again``; on the command line, the command the user ran
    (``run 'atai-fs cp big.bin atai://runs/' again``)."""
    return f"run the same {call_name} again"


_RERUN = re.compile(r"\brun the same [a-z_]+(?:\([^)]*\))? again")


def call(method: str, url: str) -> str:
    """``ls('flow://RUN_ID/')``; on the command line ``atai-fs ls flow://RUN_ID/``."""
    return f"{method}({url!r})"


_CALL = re.compile(r"\b(ls|info|cat|rm|du)\('([^']*)'\)")


def for_cli(text: str, command: str | None = None) -> str:
    """``text`` with every piece of advice written by this module in the CLI's words;
    ``command`` is the command line to rerun (else "the same atai-fs command")."""
    text = _IN_PANDAS.sub("", _PASS_OPTIONS.sub(_options_for_cli, text))
    again = f"run {command!r} again" if command else "run the same atai-fs command again"
    text = _RERUN.sub(lambda _: again, text)
    return _CALL.sub(lambda match: f"atai-fs {match.group(1)} {match.group(2)}", text)
