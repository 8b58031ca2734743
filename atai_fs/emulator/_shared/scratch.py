"""Scratch folders: state an emulator keeps on disk for one run only, emptied at start.

Parts, staged uploads and presigned objects never outlive the process that accepted
them, so each run starts from an empty folder under ``data_dir`` (``parts``,
``objects``, ``staging``, ``storage``).  ``data_dir`` is the user's choice, though, and
may already hold a folder of that name that is theirs: emptying it would delete their
files.  So an emulator empties only a folder it can prove it created: one holding the
marker file it writes when it creates the folder.  Any other folder is refused with
:class:`FileExistsError`, left exactly as it was.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

MARKER_NAME = ".atai-fs-scratch"
"""The file, inside a scratch folder, that says an emulator created the folder."""

_MARKER_TEXT = (
    "atai-fs emulator scratch folder\n"
    "An atai-fs emulator created this folder for state that lives one run only, and\n"
    "empties it each time it starts.  Delete it freely when no emulator is running.\n"
)
_SIGNATURE = _MARKER_TEXT.splitlines()[0]


def claim_scratch_dir(path: Path) -> Path:
    """Make ``path`` an empty scratch folder of this run and return it.

    Created (with its marker) when missing; emptied when it carries the marker of an
    earlier run.

    Raises
    ------
    FileExistsError
        ``path`` exists and is not a folder an emulator created: nothing is deleted.
    """
    if not os.path.lexists(path):
        path.mkdir(parents=True)
        (path / MARKER_NAME).write_text(_MARKER_TEXT)
        return path
    if not _is_scratch(path):
        raise FileExistsError(
            f"{path} already exists and was not created by an atai-fs emulator, which "
            f"keeps one-run state there and empties it at start: choose an empty or new "
            f"--data-dir (data_dir=...), or move {path} away"
        )
    _empty(path)
    return path


def _is_scratch(path: Path) -> bool:
    try:
        with open(path / MARKER_NAME, encoding="utf-8", errors="replace") as marker:
            return marker.readline().rstrip("\n") == _SIGNATURE
    except OSError:  # no marker, or path is not a folder
        return False


def _empty(path: Path) -> None:
    """Remove everything in ``path`` but the marker (links are removed, never followed)."""
    with os.scandir(path) as entries:
        for entry in entries:
            if entry.name == MARKER_NAME:
                continue
            if entry.is_dir(follow_symlinks=False):
                shutil.rmtree(entry.path)
            else:
                os.unlink(entry.path)
