"""Running the filesystem's coroutines from blocking code, so that Ctrl-C stops them.

fsspec runs a filesystem's coroutines on its IO thread and waits for them in the
caller's; a ``KeyboardInterrupt`` reaches the waiting thread only, and the upload goes
on behind the user's back: in a notebook or a service the file is published after the
user interrupted it.  Here an interrupt (any ``BaseException`` in the waiting thread)
cancels the coroutine on its loop, waits (a bounded time) for its cleanup to end (the
upload aborted, or left resumable and said so), and is raised again.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Coroutine, Iterable
from typing import Any, TypeVar

__all__ = ["gather_all", "interruptible", "run_blocking"]

log = logging.getLogger("atai_fs")

T = TypeVar("T")

#: Longest an interrupted call waits for its cleanup (aborts are short API calls).
CLEANUP_SECONDS = 30.0


def run_blocking(loop: asyncio.AbstractEventLoop, coroutine: Coroutine[Any, Any, T]) -> T:
    """Run ``coroutine`` on ``loop`` (another thread's) and return its result; an
    interrupt of the calling thread cancels it and waits for its cleanup first."""
    if loop.is_closed():
        coroutine.close()
        raise RuntimeError("the filesystem's event loop is closed")
    try:
        running = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    if running is loop:
        coroutine.close()
        raise NotImplementedError("a blocking call from within the filesystem's own loop")
    done = threading.Event()
    outcome: dict[str, Any] = {}

    async def run() -> None:
        outcome["task"] = asyncio.current_task()
        try:
            outcome["result"] = await coroutine
        except BaseException as exc:  # handed to the waiting thread
            outcome["error"] = exc
        finally:
            done.set()

    asyncio.run_coroutine_threadsafe(run(), loop)
    try:
        while not done.wait(0.5):  # short waits: the thread stays interruptible
            pass
    except BaseException:
        task = outcome.get("task")
        if task is not None:
            loop.call_soon_threadsafe(task.cancel)
        if not done.wait(CLEANUP_SECONDS):
            log.warning("an interrupted call did not finish its cleanup in %.0f s", CLEANUP_SECONDS)
        raise
    error = outcome.get("error")
    if error is not None:
        if isinstance(error, asyncio.CancelledError):
            raise KeyboardInterrupt("the call was cancelled") from error
        raise error
    result: T = outcome["result"]
    return result


def interruptible(name: str) -> Callable[..., Any]:
    """The blocking twin of the coroutine method ``name`` (e.g. ``put_file`` of
    ``_put_file``), run with :func:`run_blocking` on the filesystem's loop."""

    def method(self: Any, *args: Any, **kwargs: Any) -> Any:
        return run_blocking(self.loop, getattr(self, name)(*args, **kwargs))

    method.__name__ = name.lstrip("_")
    method.__doc__ = f"Blocking ``{name}``; Ctrl-C stops it cleanly (:mod:`atai_fs.fs.blocking`)."
    return method


async def gather_all(coroutines: Iterable[Coroutine[Any, Any, T]], *, limit: int) -> list[T]:
    """Run ``coroutines``, at most ``limit`` at once, and return their results in order.

    Unlike fsspec's ``_run_coros_in_chunks`` (its ``get`` of many files), a failure or a
    cancellation (Ctrl-C through :func:`run_blocking`) cancels every other one and waits
    for their cleanup (a download's partial file removed) before it is raised: none is
    left running behind the caller's back.
    """
    slots = asyncio.Semaphore(limit)

    async def bounded(coroutine: Coroutine[Any, Any, T]) -> T:
        async with slots:
            return await coroutine

    tasks = [asyncio.ensure_future(bounded(coroutine)) for coroutine in coroutines]
    try:
        return list(await asyncio.gather(*tasks))
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise
