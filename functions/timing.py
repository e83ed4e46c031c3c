"""Where a request's time goes: parse, queue, model, transform, encode (the metrics' breakdown).

The server starts a ``RequestTimer`` per inference request and makes it current in the
request's context (a context variable, so it follows the request to the handler thread); ``Function.infer`` and the batcher add the phases they see to the current
timer (the batcher to each stacked request's own). Outside a request there is none.
"""
from __future__ import annotations

from contextvars import ContextVar
from time import perf_counter

PHASES = ("parse", "queue", "model", "transform", "encode")

_current: ContextVar["RequestTimer | None"] = ContextVar("kfunc_request_timer", default=None)


class RequestTimer:
    """Phase durations of one request, in seconds; parse and encode are what surrounds ``infer``."""

    __slots__ = ("start", "infer_start", "infer_end", "queue", "model", "transform")

    def __init__(self) -> None:
        self.start = perf_counter()
        self.infer_start = self.infer_end = 0.0
        self.queue = self.model = self.transform = 0.0

    def parsed(self) -> None:
        self.infer_start = perf_counter()

    def inferred(self) -> None:
        self.infer_end = perf_counter()

    def phases(self, end: float) -> tuple[float, ...] | None:
        """The durations in ``PHASES`` order, or None if the request never reached ``infer``."""
        if not self.infer_end:
            return None
        return (self.infer_start - self.start, self.queue, self.model, self.transform, end - self.infer_end)


def start() -> RequestTimer:
    """A new timer, current in this context until ``stop``."""
    timer = RequestTimer()
    _current.set(timer)
    return timer


def stop() -> None:
    _current.set(None)


def current() -> RequestTimer | None:
    """The timer of the request this thread serves, if any."""
    return _current.get()
