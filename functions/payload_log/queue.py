"""The bounded queue between the request path and the sender threads, in events and in bytes.

``offer`` never waits: a full queue refuses (the caller counts the drops). ``put`` waits for room,
for ``on-full: block`` callers on a thread of their own. ``take`` hands a sender a batch: what is
there at once, or (``linger``) up to a full batch within the batch delay of its first event; or,
for the senders beyond the first, only full batches (they wait while one sender keeps up).
"""
from __future__ import annotations

import threading
import time
from collections import deque

from .events import Queued


class EventQueue:
    """A thread-safe FIFO of events (``LogEvent``s, or their ``Record``s) holding at most ``max_events``
    and ``max_bytes``."""

    def __init__(self, max_events: int, max_bytes: int, wake_every: int = 1) -> None:
        self.max_events = max_events
        self.max_bytes = max_bytes
        self.wake_every = max(1, wake_every)  # a sender that batches is woken once its batch is full
        self._items: deque[Queued] = deque()
        self._bytes = 0
        self._closed = False
        self._lock = threading.Lock()
        self._nonempty = threading.Condition(self._lock)
        self._room = threading.Condition(self._lock)
        self._backlog = threading.Condition(self._lock)

    def __len__(self) -> int:
        return len(self._items)

    @property
    def bytes(self) -> int:
        return self._bytes

    def full(self) -> bool:
        """Whether the queue is at its event or byte bound now (a glance, without the lock)."""
        return len(self._items) >= self.max_events or self._bytes >= self.max_bytes

    def offer(self, events: list[Queued]) -> int:
        """Queue ``events`` in order while there is room (one taking of the lock for all);
        how many were queued (none when full or closed)."""
        queued = 0
        with self._lock:
            if self._closed:
                return 0
            for event in events:
                size = event.size
                if not self._fits(size):
                    break
                self._push(event, size)
                queued += 1
        return queued

    def put(self, event: Queued, timeout: float) -> bool:
        """Queue ``event``, waiting up to ``timeout`` seconds for room; False if none came."""
        deadline = time.monotonic() + timeout
        with self._lock:
            size = event.size
            while not self._closed and not self._fits(size):
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._room.wait(left)
            if self._closed:
                return False
            self._push(event, size)
            return True

    def take(self, max_events: int, max_bytes: int, linger: float, wait: float,
             full_only: bool = False) -> list[Queued]:
        """Up to ``max_events`` / ``max_bytes`` of events (at least one if any), waiting ``wait``
        seconds for the first; with ``linger`` > 0, until the batch is full or its first event is
        ``linger`` seconds old (or the queue is closed). ``full_only``: only a full batch (or what
        is left once closed), waiting ``wait`` seconds for one: the extra senders that help only
        when the queue backs up."""
        with self._lock:
            if full_only:
                if not self._closed and not self._full(max_events, max_bytes):
                    self._backlog.wait(wait)
                if not self._closed and not self._full(max_events, max_bytes):
                    return []
            elif not self._items and not self._closed:
                self._nonempty.wait(wait)
            if not self._items:
                return []
            if linger > 0:
                deadline = self._items[0].time + linger
                while not self._closed and not self._full(max_events, max_bytes):
                    left = deadline - time.time()
                    if left <= 0:
                        break
                    self._nonempty.wait(left)
            batch: list[Queued] = []
            size = 0
            while self._items and len(batch) < max_events and (not batch or size + self._items[0].size <= max_bytes):
                event = self._items.popleft()
                size += event.size
                batch.append(event)
            self._bytes -= size
            self._room.notify_all()
            return batch

    def close(self) -> None:
        """No more events: ``offer``/``put`` refuse from now, waiting takers return what is left."""
        with self._lock:
            self._closed = True
            self._nonempty.notify_all()
            self._room.notify_all()
            self._backlog.notify_all()

    def drain(self) -> list[Queued]:
        """Everything still queued, removed."""
        with self._lock:
            items = list(self._items)
            self._items.clear()
            self._bytes = 0
            return items

    def _full(self, max_events: int, max_bytes: int) -> bool:
        return len(self._items) >= max_events or self._bytes >= max_bytes

    def _fits(self, size: int) -> bool:
        return len(self._items) < self.max_events and (not self._items or self._bytes + size <= self.max_bytes)

    def _push(self, event: Queued, size: int) -> None:
        items = self._items
        items.append(event)
        self._bytes += size
        count = len(items)
        if count % self.wake_every == 0:  # a full batch: for a lingering sender, and one that helps
            self._nonempty.notify()
            self._backlog.notify()
        elif count == 1:
            self._nonempty.notify()
