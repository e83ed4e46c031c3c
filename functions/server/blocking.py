"""Blocking handler code, called from the worker's event loop without stalling it.

Sync handlers (and the batcher, whose leader waits for its followers) run on one thread pool
per worker process, sized by the concurrency plan (``configure``). The caller's context
variables (the trace span, the request timer) go along to the thread.
"""
from __future__ import annotations

import asyncio
import contextvars
import resource
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from time import perf_counter, thread_time
from typing import Any, Callable

_threads = 4
_RUSAGE_THREAD: int | None = getattr(resource, "RUSAGE_THREAD", None)  # Linux
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


class Offload:
    """Decides, per route, whether a handler runs inline on the event loop or on the pool.

    A handler runs inline only when measured safe: its last ``window`` calls each took under
    ``budget_s`` of its thread's CPU time (a small model's forward pass, say), so running it on
    the loop stalls other connections less than the hand-over to a thread would cost. Anything
    that waits (a batching predictor, a remote predictor, an async handler) and every first call
    go to the pool; one slow call sends the next ``window`` there. An inline call that blocked
    (it gave up the CPU of its own accord and took over ``4 x budget_s``: a handler waiting on
    I/O, which costs no CPU time) is a strike, and a route with ``strikes`` of them stays on the
    pool. Being preempted is not a strike: on a busy machine that happens to any call.
    """

    def __init__(self, budget_s: float, window: int = 16, strikes: int = 3) -> None:
        self.budget_s = budget_s
        self.window = window
        self.strikes = strikes
        self._recent: dict[str, deque[float]] = {}
        self._strikes: dict[str, int] = {}

    def _times(self, key: str) -> deque[float]:
        times = self._recent.get(key)
        if times is None:
            times = self._recent[key] = deque(maxlen=self.window)
        return times

    def pinned(self, key: str) -> bool:
        """Whether ``key`` stays on the pool for good."""
        return self._strikes.get(key, 0) >= self.strikes

    def safe_inline(self, key: str) -> bool:
        times = self._recent.get(key)
        return (not self.pinned(key) and times is not None and len(times) == self.window
                and max(times) < self.budget_s)

    async def run(self, key: str, fn: Callable[[], Any], may_inline: bool) -> Any:
        """``fn()``, inline or on the pool, its duration noted under ``key``."""
        times = self._times(key)
        if may_inline and self.safe_inline(key):
            started, cpu, waits = perf_counter(), thread_time(), _voluntary_switches()
            try:
                return fn()
            finally:
                times.append(thread_time() - cpu)
                if perf_counter() - started > 4 * self.budget_s and (waits is None or _voluntary_switches() > waits):
                    self._strikes[key] = self._strikes.get(key, 0) + 1
        return await call(_timed, times, fn)


def _voluntary_switches() -> int | None:
    """How often this thread gave up the CPU to wait; None where the OS does not say."""
    return None if _RUSAGE_THREAD is None else resource.getrusage(_RUSAGE_THREAD).ru_nvcsw


def _timed(times: deque[float], fn: Callable[[], Any]) -> Any:
    started = thread_time()
    try:
        return fn()
    finally:
        times.append(thread_time() - started)


def call_soon(fn: Callable[[], Any]) -> None:
    """``fn()`` on the pool, not waited for (its exception is dropped)."""
    _executor().submit(fn)
