"""Several client processes at once, one organisation: the ``shared_limits`` scenario.

The fleet process starts one ``python -m benchmarks.clients WORKER PARAMS`` per entry of
``params["work"]`` (a list of path lists), waits until every one has built its client
and printed ``ready``, then starts the stopwatch and releases them all at once (one line
on each stdin), so the processes really compete for the same rate budget.  The timed
section ends when the last of them has exited; each worker's own JSON line is kept
under ``workers``.

Every fleet run gets a fresh ``XDG_CACHE_HOME`` (under ``params["cache_dir"]``), so the
atai_fs processes share the budget among themselves (their default) and never inherit
the state file of an earlier run, nor touch the user's cache.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any

from .measure import Outcome, Stopwatch

_REPO = Path(__file__).resolve().parents[2]
_WAIT = 900.0  # seconds a worker may take once released


def wait_for_go() -> None:
    """A worker's barrier: say it is ready, then block until the fleet says go."""
    print("ready", flush=True)
    sys.stdin.readline()


def _finish(process: subprocess.Popen[str]) -> str:
    """The worker's stdout once it has exited (killed after ``_WAIT`` seconds)."""
    assert process.stdout is not None
    timer = threading.Timer(_WAIT, process.kill)
    timer.start()
    try:
        out = process.stdout.read()
        process.wait()
    finally:
        timer.cancel()
    return out


def run(params: dict[str, Any], stopwatch: Stopwatch) -> Outcome:
    worker = params["worker"]
    common = {k: v for k, v in params.items() if k not in ("worker", "work", "cache_dir")}
    cache = tempfile.mkdtemp(prefix="cache-", dir=params["cache_dir"])
    env = {**os.environ, "XDG_CACHE_HOME": cache}
    env.pop("ATAI_RATE_LIMIT", None)  # the documented limits, as a user gets them
    outcome = Outcome(bytes=sum(os.path.getsize(p) for paths in params["work"] for p in paths))
    processes = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "benchmarks.clients",
                worker,
                json.dumps({**common, "paths": paths}),
            ],
            cwd=_REPO,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=open(os.path.join(cache, f"worker-{index}.err"), "w"),  # noqa: SIM115
            text=True,
        )
        for index, paths in enumerate(params["work"])
    ]
    try:
        for process in processes:
            assert process.stdout is not None
            if process.stdout.readline().strip() != "ready":
                raise RuntimeError(f"a {worker} process did not start (exit {process.wait()})")
        with stopwatch:
            for process in processes:
                assert process.stdin is not None
                process.stdin.write("go\n")
                process.stdin.flush()
                process.stdin.close()
            finished = [_finish(process) for process in processes]
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()
    lines = []
    for index, stdout in enumerate(finished):
        line = next((x for x in reversed(stdout.splitlines()) if x.startswith("{")), None)
        if line is None:
            stderr = Path(cache, f"worker-{index}.err").read_text()
            outcome.failed(RuntimeError(f"a worker gave no report: {stderr[-300:]}"))
            continue
        report = json.loads(line)
        lines.append(report)
        outcome.errors += report["errors"]
        outcome.error_messages += report["error_messages"][: 5 - len(outcome.error_messages)]
    outcome.extra = {
        "processes": len(processes),
        "cpu_workers": sum(r["cpu"] for r in lines),
        "worker_walls": [r["wall"] for r in lines],
        "workers": lines,
    }
    return outcome
