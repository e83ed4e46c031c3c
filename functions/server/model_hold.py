"""A multi-model request's model, held before its handler runs.

A model that is loaded here is held on the event loop (a lock, no waiting). One that is not is
loaded, or its running load waited for, on the worker's model-loading thread, never on the
handler pool: while a model loads, the pool keeps serving the requests of loaded models rather
than filling up with requests that wait for a load. The request holds its model until its reply
is made, so no other load evicts it in between. A request that waited for a load says how long in
a ``Server-Timing: model-load;dur=<ms>`` response header.
"""
from __future__ import annotations

import asyncio
import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import ContextManager

from ..errors import ModelNotFound
from ..registry import ModelEntry, ModelRegistry
from .exchange import Reply

_loader: ThreadPoolExecutor | None = None


def _forget_loader() -> None:
    global _loader
    _loader = None  # a forked worker starts its own thread


os.register_at_fork(after_in_child=_forget_loader)


def _loader_thread() -> ThreadPoolExecutor:
    global _loader
    if _loader is None:
        _loader = ThreadPoolExecutor(max_workers=1, thread_name_prefix="kfunc-model-load")
    return _loader


async def held_model(registry: ModelRegistry, name: str, version: str | None) -> tuple[ContextManager[None], float]:
    """The request's hold on the model it names (``ModelRegistry.held``), a context for the rest of
    the request, and the seconds it waited for the model to load (0.0 when it was loaded). Raises
    ``ModelNotFound`` (404) and ``ModelNotReady`` (503) as ``use`` would."""
    try:
        entry: ModelEntry | None = registry.resolve(name, version, refresh=False)  # no listing on the loop
    except ModelNotFound:
        entry = None
    if entry is not None and registry.hold_if_loaded(entry):
        return registry.held(entry), 0.0
    started = time.perf_counter()
    entry = await _load_and_hold(registry, name, version)
    return registry.held(entry), time.perf_counter() - started


def with_load_timing(reply: Reply, loading_s: float) -> Reply:
    """``reply`` with the ``Server-Timing`` entry of the model load its request waited for."""
    if not loading_s:
        return reply
    return replace(reply, headers={**reply.headers, "Server-Timing": f"model-load;dur={loading_s * 1000:.1f}"})


async def _load_and_hold(registry: ModelRegistry, name: str, version: str | None) -> ModelEntry:
    def hold() -> ModelEntry:
        entry = registry.resolve(name, version)
        registry.hold(entry)
        return entry

    future = asyncio.get_running_loop().run_in_executor(_loader_thread(), hold)
    try:
        return await asyncio.shield(future)
    except asyncio.CancelledError:  # the request is gone; the hold, once taken, must still end
        future.add_done_callback(lambda done: done.cancelled() or done.exception() is not None
                                 or registry.release(done.result()))
        raise
