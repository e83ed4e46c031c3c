"""Blocking handler code, called from the worker's event loop without stalling it.

Sync handlers (and the batcher, whose leader waits for its followers) run on one thread pool
per worker process, sized by the concurrency plan (``configure``). The caller's context
variables (the trace span, the request timer) go along to the thread.
"""
from __future__ import annotations

import asyncio
import contextvars
import gc
import resource
import threading
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from time import perf_counter, process_time, thread_time
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
    go to the pool; one slow call sends the next ``window`` there (time in the garbage collector
    is not counted: a collection stalls the loop wherever the handler runs). An inline call that blocked
    (it gave up the CPU of its own accord and took over ``4 x budget_s``: a handler waiting on
    I/O, which costs no CPU time) is a strike, and a route with ``strikes`` of them within
    ``horizon`` inline calls stays on the pool. Being preempted is not a strike: on a busy machine
    that happens to any call; nor is waiting while the process's other threads ran (the GIL: a
    payload-log sender, a pool thread), which the process's CPU time shows. A wait for the GIL
    whose holder was itself waiting for a CPU looks like I/O, but it is rare and scattered (about
    one call in thousands on an overloaded machine), where a handler that does I/O blocks on
    most of its calls: hence strikes count only when they come close together.

    Reading CPU clocks costs system calls (about 9 us a call on a small VM, more than the rest of
    this bookkeeping), so once a route has had ``calm`` measured inline calls in a row under the
    budget and without a strike, only every ``sample``-th call is measured; the others are timed
    on the wall clock, and one that took over the budget (slow, preempted or blocked: it cannot
    tell) has the next ``sample`` calls measured.
    """

    def __init__(self, budget_s: float, window: int = 16, strikes: int = 3, horizon: int = 64,
                 calm: int = 64, sample: int = 8) -> None:
        self.budget_s = budget_s
        self.window = window
        self.strikes = strikes
        self.horizon = horizon
        self.calm = calm
        self.sample = sample
        self._recent: dict[str, deque[float]] = {}
        self._inline_calls: dict[str, int] = {}
        self._strike_calls: dict[str, deque[int]] = {}  # the inline call numbers of the latest strikes
        self._calm_calls: dict[str, int] = {}  # measured inline calls in a row, cheap and not blocked
        self._pinned: set[str] = set()

    def _times(self, key: str) -> deque[float]:
        times = self._recent.get(key)
        if times is None:
            times = self._recent[key] = deque(maxlen=self.window)
        return times

    def pinned(self, key: str) -> bool:
        """Whether ``key`` stays on the pool for good."""
        return key in self._pinned

    def _strike(self, key: str) -> None:
        calls = self._strike_calls.get(key)
        if calls is None:
            calls = self._strike_calls[key] = deque(maxlen=self.strikes)
        calls.append(self._inline_calls[key])
        if len(calls) == self.strikes and calls[-1] - calls[0] < self.horizon:
            self._pinned.add(key)

    def safe_inline(self, key: str) -> bool:
        times = self._recent.get(key)
        return (not self.pinned(key) and times is not None and len(times) == self.window
                and max(times) < self.budget_s)

    async def run(self, key: str, fn: Callable[[], Any], may_inline: bool) -> Any:
        """``fn()``, inline or on the pool, its duration noted under ``key``."""
        times = self._times(key)
        if may_inline and self.safe_inline(key):
            calls = self._inline_calls[key] = self._inline_calls.get(key, 0) + 1
            if self._measures(key, calls):
                return self._measured(key, times, fn)
            started = perf_counter()
            try:
                return fn()
            finally:
                took = perf_counter() - started
                if took < self.budget_s:
                    times.append(took)  # wall time: above the CPU time it used
                else:  # the next ``sample`` calls are measured
                    self._calm_calls[key] = min(self._calm_calls.get(key, 0), self.calm - self.sample)
        return await call(_timed, times, fn)

    def _measures(self, key: str, calls: int) -> bool:
        """Whether this inline call has its CPU time measured (see the class docstring)."""
        return self._calm_calls.get(key, 0) < self.calm or calls % self.sample == 0

    def _measured(self, key: str, times: deque[float], fn: Callable[[], Any]) -> Any:
        started, cpu, process_cpu, waits = perf_counter(), thread_time(), process_time(), _voluntary_switches()
        collecting = _gc_clock.seconds()
        calm = False
        try:
            return fn()
        finally:
            used = thread_time() - cpu
            times.append(used - (_gc_clock.seconds() - collecting))
            waited = perf_counter() - started - used
            if waited > 4 * self.budget_s and _blocked(waits, waited, process_time() - process_cpu - used):
                self._strike(key)
            else:
                calm = times[-1] < self.budget_s
            self._calm_calls[key] = self._calm_calls.get(key, 0) + 1 if calm else 0


class _GcClock:
    """CPU seconds each thread has spent in the garbage collector (through ``gc.callbacks``). A
    collection that happens to run during a handler call is not the handler's cost (it would stall
    the loop wherever the handler ran), so it does not send the handler to the pool."""

    def __init__(self) -> None:
        self._local = threading.local()
        gc.callbacks.append(self._observe)

    def _observe(self, phase: str, info: dict) -> None:
        local = self._local
        if phase == "start":
            local.started = thread_time()
        elif hasattr(local, "started"):
            local.total = getattr(local, "total", 0.0) + thread_time() - local.started

    def seconds(self) -> float:
        return getattr(self._local, "total", 0.0)


_gc_clock = _GcClock()


def _blocked(switches_before: int | None, waited: float, others_cpu: float) -> bool:
    """Whether a call that spent ``waited`` seconds off the CPU waited on I/O: it gave up the CPU
    of its own accord, and the process's other threads did not use that time (a wait for the GIL
    is spent running them)."""
    if switches_before is not None and _voluntary_switches() <= switches_before:
        return False  # preempted
    return others_cpu < waited / 2


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
