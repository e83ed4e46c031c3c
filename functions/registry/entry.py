"""One model of the registry: its state (READY / LOADING / UNAVAILABLE / UNLOADING, with a reason),
the loaded object, its memory, its load timeline, the requests using it, and whether it has been
removed from the repository since it was listed."""
from __future__ import annotations

import threading
import time
from typing import Any

from ..startup import ms_since_start
from .memory import directory_bytes
from .sources import ModelSource

READY, LOADING, UNAVAILABLE, UNLOADING = "READY", "LOADING", "UNAVAILABLE", "UNLOADING"
BACKOFF_FIRST_S, BACKOFF_MAX_S = 0.5, 30.0
REMOVED = "removed from the model repository"


class ModelEntry:
    """A served model; ``cond`` guards every field and is notified on each state change."""

    def __init__(self, source: ModelSource, pinned: bool) -> None:
        self.source = source
        self.pinned = pinned
        self.cond = threading.Condition()
        self.state = UNAVAILABLE
        self.reason = "not loaded yet"
        self.model: Any = None
        self.error: str | None = None
        self.failures = 0
        self.retry_at = 0.0
        self.in_use = 0
        self.waiting = 0
        self.last_used = 0.0
        self.bytes = 0
        self._disk: tuple[Any, int] = (None, 0)  # (directory, bytes of its files) of the last load
        self.loads = 0
        self.evictions = 0
        self.timeline: dict[str, float] = {}
        self.batcher: Any = None  # a Batcher bound to this model, for a batching predictor
        self.removed = False  # gone from the repository's latest listing

    @property
    def served(self) -> bool:
        """Whether requests may name it: listed, or removed but still loaded in this process."""
        return not self.removed or self.state != UNAVAILABLE

    @property
    def name(self) -> str:
        return self.source.name

    @property
    def version(self) -> str | None:
        return self.source.version

    @property
    def key(self) -> str:
        return self.source.key

    @property
    def ready(self) -> bool:
        return self.state == READY

    def disk_bytes(self, path: Any) -> int:
        """The bytes of the model's files in ``path`` (what a load reserves before it measures),
        counted once per directory: a reload of the same directory does not list it again."""
        if self._disk[0] != path:
            self._disk = (path, directory_bytes(path))
        return self._disk[1]

    def mark(self, milestone: str) -> None:
        """Record ``milestone`` of the current load, in ms since the process started."""
        self.timeline[milestone] = ms_since_start()

    def loaded(self, model: Any, size: int) -> None:
        self.model, self.bytes, self.state, self.reason, self.error = model, size, READY, "", None
        self.failures = 0
        self.loads += 1
        self.cond.notify_all()

    def taken(self) -> None:
        """A request (or a batch) uses it from now on: it is not evicted until ``returned``."""
        self.in_use += 1
        self.last_used = time.monotonic()

    def returned(self) -> None:
        """A use has ended: it is the most recently used, and may be evicted once no use is left."""
        self.in_use -= 1
        self.last_used = time.monotonic()
        self.cond.notify_all()

    def failed(self, error: str) -> None:
        """The load failed: UNAVAILABLE with the reason, retried after a capped exponential backoff."""
        self.failures += 1
        delay = min(BACKOFF_MAX_S, BACKOFF_FIRST_S * 2 ** (self.failures - 1))
        self.retry_at = time.monotonic() + delay
        self.state, self.error = UNAVAILABLE, error
        self.reason = f"its load failed and is retried: {error}"
        self.cond.notify_all()

    def dropped(self, reason: str) -> None:
        """Unloaded (evicted or asked to): the object released, UNAVAILABLE with ``reason``."""
        self.model, self.bytes, self.state, self.reason = None, 0, UNAVAILABLE, reason
        self.cond.notify_all()

    def parameters(self) -> dict[str, Any]:
        """The model's load timeline and counters, flat (OIP metadata parameters)."""
        params: dict[str, Any] = {f"model_load_ms.{k}": v for k, v in self.timeline.items()}
        params.update({"model_state": self.state, "model_loads": self.loads, "model_evictions": self.evictions,
                       "model_bytes": self.bytes})
        return params

    def index_row(self) -> dict[str, Any]:
        """This process's view of the model, as a row of ``POST /v2/repository/index``."""
        row = {"name": self.name, "state": self.state, "reason": self.reason}
        if self.removed:
            row["reason"] = REMOVED if self.state == UNAVAILABLE else \
                f"{REMOVED}; its loaded copy serves until it is evicted or unloaded"
        if self.version:
            row["version"] = self.version
        return row
