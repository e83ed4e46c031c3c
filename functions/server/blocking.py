"""Blocking handler code, called from the worker's event loop without stalling it.

Sync handlers (and the batcher, whose leader waits for its followers) run on one thread pool
per worker process, sized by the concurrency plan (``configure``). The caller's context
variables (the trace span, the request timer) go along to the thread.
"""
from __future__ import annotations

import asyncio
import contextvars
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable

_threads = 4
_pool: ThreadPoolExecutor | None = None


def configure(threads: int) -> None:
    """Size the pool (before the first call in this process; a worker calls it after fork)."""
    global _threads, _pool
    _threads = max(1, threads)
    if _pool is not None:
        _pool.shutdown(wait=False)
        _pool = None


def _executor() -> ThreadPoolExecutor:
    global _pool
    if _pool is None:
        _pool = ThreadPoolExecutor(max_workers=_threads, thread_name_prefix="kfunc-handler")
    return _pool


async def call(fn: Callable[..., Any], *args: Any) -> Any:
    """``fn(*args)`` on the handler pool; its exception is raised here."""
    context = contextvars.copy_context()
    return await asyncio.get_running_loop().run_in_executor(_executor(), context.run, fn, *args)
