"""The background senders of one worker: threads that take batches off the queue and deliver
them to the sink, retrying with backoff and jitter, never touching the request path.

A delivery the sink cannot take now (connection error, 5xx, 429) is retried up to
``logger.max-attempts`` times (delays from 0.1 s doubling to 5 s, half of each random); then
its events count as failed and the sender goes on with the next batch, so sending resumes by
itself when the sink is back. ``stop(deadline)`` closes the queue, lets the senders deliver what
is left until the deadline, and counts (and logs) what could not be sent.
"""
from __future__ import annotations

import logging
import threading
import time
from typing import Protocol

from .. import metrics
from ..store.retry import backoff_delay
from .errors import SinkUnavailable
from .events import LogEvent, Queued
from .queue import EventQueue

log = logging.getLogger("kfunc.logger")
BASE_DELAY, MAX_DELAY = 0.1, 5.0
_IDLE_WAIT = 0.5  # seconds a sender waits for an event before it looks at the queue gauges again


class Sink(Protocol):
    """Where batches go: http(s) (one event a batch, several senders) or object storage."""

    batch_events: int
    batch_bytes: int
    linger: float
    senders: int

    def prepare(self, event: LogEvent) -> Queued:
        """What the request path queues of ``event`` (the work it is cheapest to do there)."""

    def deliver(self, batch: list[Queued]) -> None:
        """Send a batch of what ``prepare`` made."""

    def close(self) -> None: ...


class Senders:
    """``sink.senders`` daemon threads draining ``queue`` into ``sink``."""

    def __init__(self, queue: EventQueue, sink: Sink, max_attempts: int) -> None:
        self.queue = queue
        self.sink = sink
        self.max_attempts = max_attempts
        self._deadline: float | None = None  # time.monotonic() by which senders must give up (at stop)
        self._threads = [threading.Thread(target=self._run, args=(i > 0,), name=f"kfunc-logger-{i}", daemon=True)
                         for i in range(sink.senders)]
        self._failures = 0
        self._abandoned = 0  # events given up at the drain deadline, in delivery or about to be
        self._in_flight = 0  # events taken off the queue and not yet sent or counted
        self._final = False  # stop() has counted what is left: senders count nothing more
        self._lock = threading.Lock()

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def stop(self, deadline: float) -> int:
        """Deliver what is queued until ``deadline`` (``time.monotonic()``); returns the events left unsent."""
        self._deadline = deadline
        self.queue.close()
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        left = self.queue.drain()
        with self._lock:
            self._final = True
            stuck = self._in_flight  # senders still in a delivery past the deadline
        if left or stuck:
            metrics.count_logged("failed", len(left) + stuck)
        unsent = len(left) + stuck + self._abandoned
        if unsent:
            log.warning("payload logger: %d event(s) could not be sent before the drain deadline; counted as "
                        "failed in kfunc_logger_events_total", unsent)
        metrics.set_logger_queue(0, 0)
        self.sink.close()
        return unsent

    def _run(self, backlog_only: bool) -> None:
        """Deliver batches until stopped; a ``backlog_only`` sender takes only full batches, so in
        the steady state one thread sends (threads contending for the GIL cost the request path)."""
        while True:
            batch = self.queue.take(self.sink.batch_events, self.sink.batch_bytes, self.sink.linger, _IDLE_WAIT,
                                    full_only=backlog_only)
            metrics.set_logger_queue(len(self.queue), self.queue.bytes)
            if not batch:
                if self._deadline is not None:
                    return
                continue
            with self._lock:
                self._in_flight += len(batch)
            if self._past_deadline():
                self._abandon(batch)
                return
            self._deliver(batch)

    def _deliver(self, batch: list[Queued]) -> None:
        attempt = 1
        while True:
            started = time.perf_counter()
            try:
                self.sink.deliver(batch)
            except SinkUnavailable as exc:
                retry = attempt < self.max_attempts and not self._past_deadline()
                metrics.record_sink(time.perf_counter() - started, retried=retry)
                if self._past_deadline():
                    self._abandon(batch)
                    return
                if not retry:
                    self._failed(batch, exc)
                    return
                self._sleep(backoff_delay(attempt, BASE_DELAY, MAX_DELAY))
                attempt += 1
                continue
            except Exception as exc:  # SinkRejected; an unexpected library error must not end the sender either
                metrics.record_sink(time.perf_counter() - started, retried=False)
                self._failed(batch, exc)
                return
            metrics.record_sink(time.perf_counter() - started, retried=False)
            self._count(batch, "sent")
            if self._failures:
                log.info("payload logger: the sink takes events again after %d failed deliveries", self._failures)
                self._failures = 0
            return

    def _failed(self, batch: list[Queued], exc: Exception) -> None:
        self._count(batch, "failed")
        self._failures += 1
        if self._failures == 1 or self._failures % 100 == 0:
            log.warning("payload logger: %d event(s) not delivered (%s); %d failed deliveries so far",
                        len(batch), exc, self._failures)

    def _abandon(self, batch: list[Queued]) -> None:
        if self._count(batch, "failed"):
            with self._lock:
                self._abandoned += len(batch)

    def _count(self, batch: list[Queued], outcome: str) -> bool:
        """The batch's outcome in the metrics, unless ``stop`` has counted it already (False then)."""
        with self._lock:
            if self._final:
                return False
            self._in_flight -= len(batch)
        metrics.count_logged(outcome, len(batch))
        return True

    def _past_deadline(self) -> bool:
        return self._deadline is not None and time.monotonic() >= self._deadline

    def _sleep(self, seconds: float) -> None:
        if self._deadline is not None:
            seconds = min(seconds, max(0.0, self._deadline - time.monotonic()))
        time.sleep(seconds)
