"""Pseudo-directories over a flat namespace of names containing ``/``.

The Files API lists the whole organisation at once and has no prefix filter, so one
full listing is turned into every directory's entries in one pass, the way object
stores show common prefixes.  A directory exists when something lies below it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

__all__ = ["build_tree", "directory_entry"]

Entry = dict[str, Any]


def directory_entry(name: str) -> Entry:
    return {"name": name, "size": 0, "type": "directory"}


def build_tree(files: Iterable[Entry]) -> dict[str, list[Entry]]:
    """Map every directory name ("" for the root) to its sorted entries."""
    tree: dict[str, dict[str, Entry]] = {"": {}}
    for entry in files:
        name = entry["name"]
        parts = name.split("/")
        parent = ""
        for depth in range(1, len(parts)):
            directory = "/".join(parts[:depth])
            tree.setdefault(parent, {}).setdefault(directory, directory_entry(directory))
            tree.setdefault(directory, {})
            parent = directory
        tree.setdefault(parent, {})[name] = entry
    return {
        directory: [children[key] for key in sorted(children)]
        for directory, children in tree.items()
    }
