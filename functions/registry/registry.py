"""The model registry: every model a function serves, loaded on first use (or before fork when pinned),
evicted least recently used first to keep the pod under ``runtime.memory-budget``.

A request ``use``s its model: a loaded one is a hit; an unloaded one is loaded by the first request
that needs it while concurrent ones wait for that same load; a model whose load failed answers 503
with the reason until its backoff has passed, then the next request tries again. A model in use by
a request (or a batch) is never evicted. Memory is accounted pod-wide in the ``Ledger``. The server
may instead ``hold`` a request's model before its handler runs (loading it off the handler pool):
inside ``held``, ``use`` of that model takes the request's hold.
"""
from __future__ import annotations

import logging
import os
import threading
import time
import uuid
from contextlib import contextmanager, nullcontext
from contextvars import ContextVar
from pathlib import Path
from typing import Any, Callable, ContextManager, Iterator

from ..errors import InvalidInput, ModelNotReady
from . import entry as states
from .catalogue import Catalogue, Lister
from .entry import ModelEntry
from .ledger import Ledger, row_id, total_bytes
from .memory import release_freed_memory, rss_bytes
from .model_metrics import ModelMetrics
from .sources import ModelSource

log = logging.getLogger("kfunc")
ROOM_TIMEOUT_S = 30.0
WATCH_INTERVAL_S = 0.05

_HELD: ContextVar["ModelEntry | None"] = ContextVar("kfunc_held_model", default=None)  # the request's own hold

Fetch = Callable[[ModelSource], "Path | None"]
LoadHook = Callable[["Path | None", ModelSource], Any]


class ModelRegistry:
    """The models of one function. ``ledger`` is None for a single-model function (nothing to share)."""

    def __init__(self, sources: list[ModelSource], *, fetch: Fetch, load_hook: LoadHook,
                 pinned: set[str], budget: int | None, ledger: Ledger | None,
                 lister: Lister | None = None, refresh_interval: float = 10.0) -> None:
        self.catalogue = Catalogue(sources, pinned, lister=lister, interval=refresh_interval)
        self.fetch, self.load_hook, self.budget, self.ledger = fetch, load_hook, budget, ledger
        self.metrics = ModelMetrics()
        self.catalogue.each_entry(lambda entry: self.metrics.add(entry.key))
        self._load_lock = threading.Lock()  # one load at a time per process: its RSS growth is its own
        self._watcher_pid = -1
        self._token = uuid.uuid4().hex[:8]  # rows of this registry, should a process hold two (tests)

    # -- lookup (``Catalogue``) -----------------------------------------------------------------
    @property
    def entries(self) -> list[ModelEntry]:
        return self.catalogue.entries

    def resolve(self, name: str, version: str | None = None, *, refresh: bool = True) -> ModelEntry:
        """The model a request names; see ``Catalogue.resolve``."""
        return self.catalogue.resolve(name, version, refresh=refresh)

    def names(self) -> list[str]:
        return self.catalogue.names()

    def refresh(self) -> bool:
        """List the repository again (at most once per interval); see ``Catalogue.refresh``."""
        return self.catalogue.refresh()

    @property
    def pinned(self) -> list[ModelEntry]:
        return self.catalogue.pinned

    # -- serving --------------------------------------------------------------------------------
    def use(self, entry: ModelEntry) -> ContextManager[Any]:
        """The loaded model for the block (loaded now if need be); never evicted while in use. A
        pinned model that is loaded is never evicted nor unloaded: nothing to hold (a hit)."""
        if _HELD.get() is entry:  # the request holds it already (``held``): counted there
            return nullcontext(entry.model)
        self._ensure_watcher()
        if entry.pinned and entry.state == states.READY:
            self.metrics.count(entry.key, "hits")
            return nullcontext(entry.model)
        return self._held(entry)

    @contextmanager
    def _held(self, entry: ModelEntry) -> Iterator[Any]:
        self._acquire(entry)
        try:
            yield entry.model
        finally:
            self.release(entry)

    def hold(self, entry: ModelEntry) -> None:
        """Load ``entry`` if need be (or wait for its load) and hold it until ``release``: it is not
        evicted meanwhile. Blocks; raises ``ModelNotReady`` as ``use`` does."""
        self._ensure_watcher()
        self._acquire(entry)

    def hold_if_loaded(self, entry: ModelEntry) -> bool:
        """Hold ``entry`` if it is loaded here (a hit); never waits nor loads."""
        with entry.cond:
            if entry.state != states.READY:
                return False
            entry.taken()
        self._ensure_watcher()
        self.metrics.count(entry.key, "hits")
        return True

    def release(self, entry: ModelEntry) -> None:
        """End a hold (``hold``, ``hold_if_loaded``, or a ``use``'s)."""
        with entry.cond:
            entry.returned()

    @contextmanager
    def held(self, entry: ModelEntry) -> Iterator[None]:
        """The block is the request's use of ``entry``, which it holds: ``use(entry)`` inside (on
        any thread the context goes to) takes this hold, which ends with the block."""
        token = _HELD.set(entry)
        try:
            yield
        finally:
            _HELD.reset(token)
            self.release(entry)

    def _acquire(self, entry: ModelEntry) -> None:
        waited = False
        while True:
            with entry.cond:
                if entry.state == states.READY:
                    entry.taken()
                    self.metrics.count(entry.key, "misses" if waited else "hits")
                    return
                if entry.pinned or (entry.error and time.monotonic() < entry.retry_at):
                    raise ModelNotReady(not_ready_message(entry))
                if entry.state in (states.LOADING, states.UNLOADING):
                    waited = True
                    self._wait(entry)
                    continue
                entry.state = states.LOADING
            self._load_claimed(entry, hold=True)
            self.metrics.count(entry.key, "misses")
            return

    def _wait(self, entry: ModelEntry) -> None:
        entry.waiting += 1
        self.metrics.gauge_add(entry.key, "waiting", 1)
        try:
            entry.cond.wait(1.0)
        finally:
            entry.waiting -= 1
            self.metrics.gauge_add(entry.key, "waiting", -1)

    # -- loading --------------------------------------------------------------------------------
    def load(self, entry: ModelEntry) -> None:
        """Load ``entry`` in this process now (unless loaded); the load's own exception is raised."""
        with entry.cond:
            while entry.state in (states.LOADING, states.UNLOADING):
                entry.cond.wait(1.0)
            if entry.state == states.READY:
                return
            entry.state = states.LOADING
        self._load_claimed(entry, raise_original=True)

    def _load_claimed(self, entry: ModelEntry, raise_original: bool = False, hold: bool = False) -> None:
        """Load a model this thread set LOADING: fetch, make room, run the hook, measure its memory;
        ``hold``: in use by this thread from the moment it is READY (no other load can evict it first)."""
        started = time.perf_counter()
        try:
            with self._load_lock:
                entry.timeline.clear()
                entry.mark("requested")
                path = self.fetch(entry.source)
                entry.mark("fetched")
                estimate = entry.disk_bytes(path)
                self._reserve(entry, estimate)
                before = rss_bytes()
                model = self.load_hook(path, entry.source)
                size = max(rss_bytes() - before, estimate)
                entry.mark("loaded")
                size = self._settle(entry, estimate, size)
        except Exception as exc:
            self._forget(entry)
            with entry.cond:
                entry.failed(f"{type(exc).__name__}: {exc}")
            self.metrics.count(entry.key, "load_failures")
            log.warning("model %s: load failed (%s), retried in %.1f s", entry.key, entry.error,
                        max(0.0, entry.retry_at - time.monotonic()))
            if self.catalogue.vanished(entry):  # gone from the repository: 404 rather than 503
                raise self.catalogue.not_found(entry.name, entry.version) from None
            if raise_original:
                raise
            raise ModelNotReady(not_ready_message(entry)) from None
        with entry.cond:
            entry.loaded(model, size)
            if hold:
                entry.taken()
        self.metrics.count(entry.key, "loads")
        self.metrics.count(entry.key, "load_seconds", time.perf_counter() - started)
        self.metrics.gauge_add(entry.key, "bytes", size)
        log.info("model %s loaded in %.0f ms (%d bytes resident)", entry.key,
                 (time.perf_counter() - started) * 1000, size)

    def _reserve(self, entry: ModelEntry, estimate: int) -> None:
        """Record the model as loading in the ledger once there is room for ``estimate`` bytes."""
        if self.ledger is None:
            return
        if self.budget is not None and estimate > self.budget:
            raise ModelNotReady(f"model {entry.key} needs {estimate} bytes, more than runtime.memory-budget "
                                f"({self.budget}); raise the budget")

        def record(table: dict[str, dict]) -> None:
            table[row_id(self._owner(), entry.key)] = {
                "pid": os.getpid(), "owner": self._owner(), "key": entry.key, "bytes": estimate,
                "last_used": time.monotonic(), "pinned": entry.pinned, "loading": True}

        self._when_room(entry, estimate, record)

    def _settle(self, entry: ModelEntry, estimate: int, size: int) -> int:
        """The bytes the model counts: its measured size, replacing the estimate once the difference
        fits too (idle models are evicted for it, or the load waits for them), so the budget holds
        whatever the load measured. A measurement above the whole budget (its files fit it: other
        threads' allocations during the load, or buffers the model built) counts as the whole budget."""
        if self.ledger is None:
            return size
        if self.budget is not None and size > self.budget:
            log.warning("model %s: the load measured %d bytes, more than runtime.memory-budget (%d) though its "
                        "files fit (other threads allocated meanwhile, or the model built buffers); counted as the "
                        "whole budget", entry.key, size, self.budget)
            size = self.budget

        def record(table: dict[str, dict]) -> None:
            table[row_id(self._owner(), entry.key)].update(bytes=size, loading=False, last_used=time.monotonic())

        self._when_room(entry, max(0, size - estimate), record)
        return size

    def _when_room(self, entry: ModelEntry, need: int, record: Callable[[dict[str, dict]], None]) -> None:
        """``record`` ``entry``'s row in the ledger once ``need`` more bytes fit the budget (evicting
        idle models); 503 if models serving requests hold it for ``ROOM_TIMEOUT_S``."""
        deadline = time.monotonic() + ROOM_TIMEOUT_S
        while True:
            with self.ledger.open() as table:
                if self._make_room(table, need):
                    record(table)
                    return
            if time.monotonic() > deadline:
                raise ModelNotReady(f"model {entry.key} waits for room: runtime.memory-budget ({self.budget} bytes) "
                                    "is held by models serving requests; retry, or raise the budget")
            time.sleep(0.02)

    def _make_room(self, table: dict[str, dict], need: int) -> bool:
        """Evict this process's least recently used idle models, and flag other processes' ones,
        until ``need`` more bytes fit the budget; whether they fit now."""
        if self.budget is None:
            return True
        owner = self._owner()
        for row in table.values():
            mine = self.catalogue.by_key.get(row["key"]) if row["owner"] == owner else None
            if mine is not None and mine.last_used:
                row["last_used"] = mine.last_used
        total = total_bytes(table)
        candidates = sorted((rid for rid, r in table.items() if not r["pinned"] and not r.get("loading")),
                            key=lambda rid: table[rid]["last_used"])
        for rid in candidates:
            if total + need <= self.budget:
                break
            row = table[rid]
            if row["owner"] != owner:
                row["evict"] = True
            elif self._evict_local(self.catalogue.by_key[row["key"]], "evicted to make room (least recently used)"):
                total -= row["bytes"]
                del table[rid]
        return total + need <= self.budget

    def _evict_local(self, entry: ModelEntry, reason: str) -> bool:
        """Drop this process's copy of an idle, unpinned model; False if it is busy, serving, or has
        requests waiting for it."""
        if entry.pinned or not entry.cond.acquire(blocking=False):
            return False
        try:
            if entry.state != states.READY or entry.in_use or entry.waiting:  # serving, or about to
                return False
            size = entry.bytes
            entry.evictions += 1
            entry.dropped(reason)
        finally:
            entry.cond.release()
        release_freed_memory()
        self.metrics.count(entry.key, "evictions")
        self.metrics.gauge_add(entry.key, "bytes", -size)
        return True

    def _forget(self, entry: ModelEntry) -> None:
        if self.ledger is not None:
            with self.ledger.open() as table:
                table.pop(row_id(self._owner(), entry.key), None)

    # -- unloading ------------------------------------------------------------------------------
    def unload(self, entry: ModelEntry) -> None:
        """Unload the model in every process of the pod (each once its requests finish); its next
        request loads it again. A pinned model is refused (400)."""
        if entry.pinned:
            raise InvalidInput(f"model {entry.key} is pinned (model.pinned), so it stays loaded; "
                               "remove it from model.pinned to unload it")
        with entry.cond:
            if entry.state == states.READY:
                entry.state = states.UNLOADING
                while entry.in_use:
                    entry.cond.wait(1.0)
                size = entry.bytes
                entry.dropped("unloaded (POST /v2/repository/models/.../unload); its next request loads it")
                self.metrics.gauge_add(entry.key, "bytes", -size)
        release_freed_memory()
        if self.ledger is not None:
            with self.ledger.open() as table:
                table.pop(row_id(self._owner(), entry.key), None)
                for row in table.values():
                    if row["key"] == entry.key:
                        row["unload"] = True

    # -- the pod-wide view ----------------------------------------------------------------------
    def index(self) -> list[dict[str, Any]]:
        """Every model with its state and reason, as loaded anywhere in the pod."""
        others = {}
        if self.ledger is not None:
            others = {r["key"]: r for r in self.ledger.read().values() if r["owner"] != self._owner()}
        rows = []
        for entry in self.entries:
            row = entry.index_row()
            held = others.get(entry.key)
            if entry.state == states.UNAVAILABLE and held is not None:
                row["state"] = states.LOADING if held.get("loading") else states.READY
                copy = f"its loaded copy in process {held['pid']} serves until it is evicted or unloaded"
                row["reason"] = f"{states.REMOVED}; {copy}" if entry.removed else \
                    f"loaded in process {held['pid']}; this one loads it on its first request"
            rows.append(row)
        return rows

    def _owner(self) -> str:
        """This registry in this process: whose rows of the ledger are its own."""
        return f"{os.getpid()}.{self._token}"

    def _ensure_watcher(self) -> None:
        """Start this process's ledger watcher (once per process: a forked worker starts its own)."""
        if self.ledger is None or self._watcher_pid == os.getpid():
            return
        self._watcher_pid = os.getpid()
        threading.Thread(target=self._watch, name="kfunc-model-ledger", daemon=True).start()

    def _watch(self) -> None:
        """Honour other processes' eviction and unload flags on this process's models."""
        owner = self._owner()
        while True:
            time.sleep(WATCH_INTERVAL_S)
            try:
                with self.ledger.open() as table:  # type: ignore[union-attr]
                    for rid, row in list(table.items()):
                        if row["owner"] != owner or not (row.get("evict") or row.get("unload")):
                            continue
                        reason = "unloaded in every process" if row.get("unload") else \
                            "evicted to make room for another process's model (least recently used)"
                        if self._evict_local(self.catalogue.by_key[row["key"]], reason):
                            del table[rid]
                        elif not row.get("unload"):
                            row["evict"] = False  # serving: the other process picks another victim
            except Exception:  # keep watching: a transient file error must not end eviction
                log.exception("model ledger watcher")


def not_ready_message(entry: ModelEntry) -> str:
    reason = entry.reason if entry.error else "it is still loading"
    return f"model {entry.name} is not ready: {reason}"
