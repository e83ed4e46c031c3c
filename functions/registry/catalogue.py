"""The models a registry serves, looked up by name and version, and kept up to date with the
repository: listed again (at most once per ``model.refresh-interval``, by each process on its own)
when a request names an unknown model, a load fails, or the index is asked for.

A model that appears is served at once (a new version of a pinned model too, loaded on demand:
only what was pinned at start is pinned). One that vanished is marked ``removed``: requests for
it get 404 unless this process still holds it loaded (that copy serves until it is evicted or
unloaded), and the index shows it UNAVAILABLE with the reason."""
from __future__ import annotations

import logging
import threading
import time
from typing import Callable

from ..errors import ModelNotFound
from .entry import REMOVED, ModelEntry
from .sources import ModelSource, source_order

log = logging.getLogger("kfunc")
LIST_ENDPOINTS = "GET /v1/models or POST /v2/repository/index"

Lister = Callable[[], "list[ModelSource]"]
Prepare = Callable[[ModelEntry], None]


class Catalogue:
    """Every model listed so far; ``lister`` (None: a fixed list) lists the repository again."""

    def __init__(self, sources: list[ModelSource], pinned: set[str], *, lister: Lister | None = None,
                 interval: float = 10.0) -> None:
        self.lister, self.interval = lister, interval
        self._prepare: list[Prepare] = []
        self._lock = threading.Lock()
        self._listed_at = time.monotonic()
        self._publish([ModelEntry(s, s.name in pinned) for s in sources])

    def _publish(self, entries: list[ModelEntry]) -> None:
        """Replace the lists whole, so a reader never sees one half-changed."""
        by_name: dict[str, list[ModelEntry]] = {}
        for entry in entries:
            by_name.setdefault(entry.name, []).append(entry)
        self.entries, self.by_key, self._by_name = entries, {e.key: e for e in entries}, by_name
        self.pinned = [e for e in entries if e.pinned]

    def each_entry(self, prepare: Prepare) -> None:
        """Call ``prepare`` on every model now and on every one a later listing adds."""
        self._prepare.append(prepare)
        for entry in self.entries:
            prepare(entry)

    # -- lookup ---------------------------------------------------------------------------------
    def resolve(self, name: str, version: str | None = None, *, refresh: bool = True) -> ModelEntry:
        """The model a request names (its latest served version when none is given), re-listing the
        repository once if it is unknown (``refresh``); else 404 naming the list endpoints."""
        found = self._find(name, version)
        if found is None and refresh:
            self.refresh()
            found = self._find(name, version)
        if found is None:
            raise self.not_found(name, version)
        return found

    def not_found(self, name: str, version: str | None) -> ModelNotFound:
        """The 404 for a model (or version) not served: unknown, or removed from the repository."""
        versions = [e for e in self._by_name.get(name, []) if e.served]
        if not versions:
            why = f"was {REMOVED}" if name in self._by_name else "not found"
            return ModelNotFound(f"model {name!r} {why}; this server serves {self._listing()} (see {LIST_ENDPOINTS})")
        held = [repr(v.version) for v in versions if v.version]
        served = f"version{'s' if len(held) > 1 else ''} {', '.join(held)}" if held else "no versions"
        return ModelNotFound(f"model {name!r} version {version!r} not found; it has {served}")

    def _find(self, name: str, version: str | None) -> ModelEntry | None:
        versions = [e for e in self._by_name.get(name, []) if e.served]
        if version is None:
            return versions[-1] if versions else None
        return next((e for e in versions if e.version == version), None)

    def names(self) -> list[str]:
        """The names requests may use, in listing order."""
        return [name for name, versions in self._by_name.items() if any(e.served for e in versions)]

    def _listing(self) -> str:
        names = self.names()
        if not names:
            return "no model now"
        return ", ".join(map(repr, names[:5])) + (f" and {len(names) - 5} more" if len(names) > 5 else "")

    # -- re-listing -----------------------------------------------------------------------------
    def refresh(self) -> bool:
        """List the repository again unless it was listed within ``interval`` (or has no lister);
        whether it was. A failed listing is logged and keeps the models known so far."""
        if self.lister is None:
            return False
        with self._lock:
            if time.monotonic() - self._listed_at < self.interval:
                return False
            self._listed_at = time.monotonic()
            try:
                sources = self.lister()
            except Exception as exc:
                log.warning("model repository: listing it again failed (%s: %s); serving the models "
                            "listed before", type(exc).__name__, exc)
                return False
            self._update(sources)
            return True

    def vanished(self, entry: ModelEntry) -> bool:
        """Whether ``entry`` has gone from the repository (listed again now, if due): asked when
        its load failed, as a process that has not listed it since would otherwise retry it."""
        self.refresh()
        return entry.removed

    def _update(self, sources: list[ModelSource]) -> None:
        listed = {s.key: s for s in sources}
        removed = [e.key for e in self.entries if e.key not in listed and not e.removed]
        for entry in self.entries:
            if entry.removed and entry.key in listed:
                entry.retry_at = 0.0  # back again: no backoff left from the loads that failed meanwhile
            entry.removed = entry.key not in listed
            if not entry.removed:
                entry.source = listed[entry.key]  # its files as listed now: the next load fetches what changed
        added = [ModelEntry(s, False) for s in sources if s.key not in self.by_key]  # loaded on demand
        for entry in added:
            for prepare in self._prepare:
                prepare(entry)
        if added:
            self._publish(sorted(self.entries + added, key=lambda e: source_order(e.source)))
        if added or removed:
            log.info("model repository listed again: %d new (%s), %d removed (%s)", len(added),
                     ", ".join(e.key for e in added) or "-", len(removed), ", ".join(removed) or "-")
