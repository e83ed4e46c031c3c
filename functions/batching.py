"""Adaptive micro-batching: concurrent requests of one process stacked into one predictor call.

There is no batching thread. A request that finds the predictor idle runs at once with
whatever else is queued (a lone request pays nothing); requests that arrive while it runs
queue up, and when it finishes the first of them leads the next call with up to
``max_batch_size`` of them. The leader waits for more only while other requests are known to
be on their way (being read or transformed: ``expecting``), and never past
``max_latency_ms`` after the oldest queued request arrived.

Errors stay with their request: an input that does not stack (no first axis, members that
disagree on their row count) fails alone with 400 before it is queued; requests whose trailing
shapes or dtypes differ run in separate calls. When a call on several requests raises an error
that one request's data can cause (``PER_REQUEST_ERRORS``: bad input, a value, type or lookup
error), each of them is run again on its own, so only the request that fails alone gets the error;
any other error (out of memory, a remote that is down: ``RuntimeError``, ``OSError``, a 5xx) fails
the whole batch at once, logged once with its stack trace. Both are counted in
``kfunc_batch_failures_total{rerun}``.
"""
from __future__ import annotations

import logging
import threading
from collections import deque
from contextlib import contextmanager
from dataclasses import replace
from time import perf_counter
from typing import Any, Callable, Hashable, Iterator

from opentelemetry import trace

from . import metrics, telemetry, timing
from .config import BatchSettings
from .context import Context
from .errors import InvalidInput, KFuncError
from .stacking import Unstackable, rows, signature, split, stack

log = logging.getLogger("kfunc")
tracer = trace.get_tracer("kfunc")
_PENDING = object()
PER_REQUEST_ERRORS = (InvalidInput, ValueError, TypeError, LookupError, ArithmeticError, AssertionError)


class BatchFailed(KFuncError):
    """The predictor failed on a whole batch for a reason no one request caused (500)."""
Predict = Callable[[Any, Context], Any]


class _Item:
    """One request in the queue, and what comes back to it."""

    __slots__ = ("data", "context", "rows", "signature", "timer", "link", "enqueued",
                 "event", "lead", "result", "error")

    def __init__(self, data: Any, context: Context, count: int, key: Hashable) -> None:
        self.data, self.context, self.rows, self.signature = data, context, count, key
        self.timer = timing.current()
        span_context = trace.get_current_span().get_span_context() if telemetry.recording() else None
        self.link = trace.Link(span_context) if span_context is not None and span_context.is_valid else None
        self.enqueued = perf_counter()
        self.event: threading.Event | None = None
        self.lead = False
        self.result: Any = _PENDING
        self.error: BaseException | None = None


class Batcher:
    """Runs ``predict`` on stacked requests; ``submit`` is called by each request's own thread."""

    def __init__(self, predict: Predict, settings: BatchSettings, *, raw_input: bool) -> None:
        self.predict = predict
        self.settings = settings
        self._unstackable = InvalidInput if raw_input else KFuncError  # request's fault, or the transformer's
        self._max_wait = settings.max_latency_ms / 1000
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._queue: deque[_Item] = deque()
        self._busy = False
        self._arriving = 0
        self._local = threading.local()

    @contextmanager
    def expecting(self) -> Iterator[None]:
        """Announce, for the block, a request on its way to ``submit`` (leaders may wait for it)."""
        with self._lock:
            self._arriving += 1
        self._local.expected = True
        try:
            yield
        finally:
            if self._local.expected:
                self._local.expected = False
                with self._lock:
                    self._arriving -= 1
                    self._changed.notify()

    def submit(self, data: Any, context: Context) -> Any:
        """The predictor's answer for this request's ``data``, computed in a batch with others."""
        try:
            item = _Item(data, context, rows(data), signature(data))
        except Unstackable as exc:
            raise self._unstackable(str(exc)) from None
        with self._lock:
            self._queue.append(item)
            if getattr(self._local, "expected", False):
                self._local.expected = False
                self._arriving -= 1
            leads = not self._busy
            if leads:
                self._busy = True
            else:
                item.event = threading.Event()
            self._changed.notify()
        if not leads:
            item.event.wait()
            if not item.lead:
                return _outcome(item)
        self._lead()
        return _outcome(item)

    def _lead(self) -> None:
        batch = self._take()
        started = perf_counter()
        try:
            groups: dict[Hashable, list[_Item]] = {}
            for item in batch:
                groups.setdefault(item.signature, []).append(item)
            for group in groups.values():
                self._call(group)
                if any(item.timer is not None for item in group):  # a request's, not the warm-up's
                    metrics.record_batch(len(group), [started - item.enqueued for item in group])
        finally:
            self._hand_back(batch, started)

    def _hand_back(self, batch: list[_Item], started: float) -> None:
        """Wake the batch's requests, then pass the lead to the first one still queued, if any."""
        for item in batch:
            if item.result is _PENDING and item.error is None:
                item.error = KFuncError("the batch this request was in failed before the predictor ran")
            if item.timer is not None:
                item.timer.queue += started - item.enqueued
            if item.event is not None:
                item.event.set()
        with self._lock:
            if self._queue:
                successor = self._queue[0]
                successor.lead = True
                assert successor.event is not None
                successor.event.set()
            else:
                self._busy = False

    def _take(self) -> list[_Item]:
        """Up to ``max_batch_size`` queued requests, once no more are worth waiting for."""
        limit = self.settings.max_batch_size
        with self._lock:
            deadline = self._queue[0].enqueued + self._max_wait
            while len(self._queue) < limit and self._arriving > 0:
                remaining = deadline - perf_counter()
                if remaining <= 0:
                    break
                self._changed.wait(remaining)
            return [self._queue.popleft() for _ in range(min(limit, len(self._queue)))]

    def _call(self, group: list[_Item]) -> None:
        """One predictor call on the group; on failure, each request again on its own."""
        started = perf_counter()
        try:
            if len(group) == 1:
                results = [self._predict(group[0].data, group[0].context, group)]
            else:
                stacked = stack([item.data for item in group])
                context = replace(group[0].context, batch=[item.context for item in group])
                results = split(self._predict(stacked, context, group), [item.rows for item in group])
        except Exception as exc:
            if len(group) > 1:
                self._failed_together(group, exc)
                return
            group[0].error = exc
        else:
            for item, result in zip(group, results):
                item.result = result
        elapsed = perf_counter() - started
        for item in group:
            if item.timer is not None:
                item.timer.model += elapsed

    def _failed_together(self, group: list[_Item], exc: Exception) -> None:
        """Re-run each request alone if one of them may have caused ``exc``; else fail them all."""
        per_request = isinstance(exc, PER_REQUEST_ERRORS)
        metrics.record_batch_failure(rerun=per_request)
        if per_request:
            for item in group:
                self._call([item])
            return
        log.error("predictor failed on a batch of %d requests (%s); each of them gets the error",
                  len(group), ", ".join(item.context.request_id for item in group), exc_info=exc)
        error = BatchFailed(f"{type(exc).__name__}: {exc} (in a batch of {len(group)} requests)")
        for item in group:
            item.error = error

    def _predict(self, data: Any, context: Context, group: list[_Item]) -> Any:
        if not telemetry.recording():
            return self.predict(data, context)
        links = [item.link for item in group if item.link is not None]
        with tracer.start_as_current_span("kfunc.predict", links=links) as span:
            span.set_attribute("kfunc.batch_size", len(group))
            return self.predict(data, context)


def _outcome(item: _Item) -> Any:
    if item.error is not None:
        raise item.error
    return item.result
