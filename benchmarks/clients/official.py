"""The official ``archetypeai`` client's direct upload, with its defaults."""

from __future__ import annotations

import os
from typing import Any

from archetypeai import ArchetypeAI

from .measure import Outcome, Stopwatch
from .sources import frame


def _files(params: dict[str, Any]) -> Any:
    return ArchetypeAI(params["api_key"], api_endpoint=params["endpoint_url"]).files.local


def upload(params: dict[str, Any], stopwatch: Stopwatch) -> Outcome:
    """``files.local.upload(path, use_proxy=False)``; the name is the file's basename."""
    files = _files(params)
    outcome = Outcome(bytes=os.path.getsize(params["path"]))
    with stopwatch:
        try:
            files.upload(params["path"], use_proxy=False)
        except Exception as exc:
            outcome.failed(exc)
    return outcome


def upload_many(params: dict[str, Any], stopwatch: Stopwatch) -> Outcome:
    """A loop of ``upload``; each exception (e.g. 429 after its 3 attempts) is one failure."""
    return _upload_each(_files(params), params["paths"], stopwatch)


def _upload_each(files: Any, paths: list[str], stopwatch: Stopwatch) -> Outcome:
    """``upload`` each path in turn, timed; each exception is one failed file."""
    outcome = Outcome(bytes=sum(os.path.getsize(p) for p in paths))
    with stopwatch:
        for path in paths:
            try:
                files.upload(path, use_proxy=False)
            except Exception as exc:
                outcome.failed(exc)
    return outcome


def to_parquet(params: dict[str, Any], stopwatch: Stopwatch) -> Outcome:
    """``df.to_parquet(local)`` then ``upload(local)``, timed together; the file is removed after.

    The client refuses a ``.parquet`` extension, so the local name ends in ``.csv``.
    """
    df = frame(params["frame_bytes"])
    files = _files(params)
    local = params["path"]
    outcome = Outcome()
    try:
        with stopwatch:
            try:
                df.to_parquet(local)
                outcome.bytes = os.path.getsize(local)
                files.upload(local, use_proxy=False)
            except Exception as exc:
                outcome.failed(exc)
    finally:
        if os.path.exists(local):
            os.remove(local)
    return outcome


def upload_worker(params: dict[str, Any], stopwatch: Stopwatch) -> Outcome:
    """One process of a fleet: build the client, wait for the others, then a loop of
    ``upload`` over ``paths``; each exception is one failed file."""
    from .fleet import wait_for_go

    files = _files(params)
    wait_for_go()
    return _upload_each(files, params["paths"], stopwatch)
