"""atai_fs, used the way its README shows."""

from __future__ import annotations

import os
from typing import Any

from atai_fs import ATAIFileSystem

from .measure import Outcome, Stopwatch
from .sources import chunks, frame


def _filesystem(params: dict[str, Any]) -> ATAIFileSystem:
    options = params.get("options", {})
    return ATAIFileSystem(api_key=params["api_key"], endpoint_url=params["endpoint_url"], **options)


def put_file(params: dict[str, Any], stopwatch: Stopwatch) -> Outcome:
    """``fs.put_file(path, "atai://NAME")``."""
    fs = _filesystem(params)
    outcome = Outcome(bytes=os.path.getsize(params["path"]))
    with stopwatch:
        try:
            fs.put_file(params["path"], f"atai://{params['name']}")
        except Exception as exc:
            outcome.failed(exc)
    _report_concurrency(fs, outcome)
    return outcome


def _report_concurrency(fs: ATAIFileSystem, outcome: Outcome) -> None:
    """Where the part-concurrency controller settled, and the levels it went through."""
    controller = fs.part_concurrency
    if controller is not None:
        outcome.extra["concurrency"] = controller.settled
        outcome.extra["concurrency_levels"] = [limit for _, limit in controller.history]


def put_many(params: dict[str, Any], stopwatch: Stopwatch) -> Outcome:
    """``fs.put(list_of_paths, "atai://DIR/")`` (the root when DIR is empty, where the
    official client puts its files too): one call; a failure ends it."""
    fs = _filesystem(params)
    paths = params["paths"]
    outcome = Outcome(bytes=sum(os.path.getsize(p) for p in paths))
    with stopwatch:
        try:
            prefix = f"{params['name']}/" if params["name"] else ""
            fs.put(paths, f"atai://{prefix}")
        except Exception as exc:
            outcome.failed(exc)
    return outcome


def stream(params: dict[str, Any], stopwatch: Stopwatch) -> Outcome:
    """``fs.open(..., "wb")`` (or with ``size=``) fed 1 MiB chunks from a generator."""
    fs = _filesystem(params)
    total = params["size"]
    options = {"size": total} if params.get("known_size") else {}
    outcome = Outcome(bytes=total)
    with stopwatch:
        try:
            with fs.open(f"atai://{params['name']}", "wb", **options) as f:
                for chunk in chunks(total):
                    f.write(chunk)
        except Exception as exc:
            outcome.failed(exc)
    _report_concurrency(fs, outcome)
    return outcome


def to_parquet(params: dict[str, Any], stopwatch: Stopwatch) -> Outcome:
    """``df.to_parquet("atai://NAME", storage_options=...)``, encoding included."""
    df = frame(params["frame_bytes"])
    storage_options = {"api_key": params["api_key"], "endpoint_url": params["endpoint_url"]}
    outcome = Outcome()  # the size is only known to the emulator (bytes_received)
    with stopwatch:
        try:
            df.to_parquet(f"atai://{params['name']}", storage_options=storage_options)
        except Exception as exc:
            outcome.failed(exc)
    return outcome


def put_worker(params: dict[str, Any], stopwatch: Stopwatch) -> Outcome:
    """One process of a fleet: build the filesystem, wait for the others, ``fs.put``
    ``paths`` to the root (one call; a failure ends it, counted as one error)."""
    from .fleet import wait_for_go

    fs = _filesystem(params)
    paths = params["paths"]
    outcome = Outcome(bytes=sum(os.path.getsize(p) for p in paths))
    wait_for_go()
    with stopwatch:
        try:
            fs.put(paths, "atai://")
        except Exception as exc:
            outcome.failed(exc)
    return outcome
