"""Request metrics shared by every worker process, and their Prometheus text exposition.

Each process adds its measurements to its own memory-mapped file of float64 slots
(``<dir>/<pid>.metrics``) under a lock: a handful of additions a request, no syscalls. ``/metrics``,
whichever worker answers it, sums the files of every worker that has run under this server
(those of exited workers too, so counters never go back), which is what Knative's and Istio's
scrapers need from a multi-process pod. The directory is ``KFUNC_METRICS_DIR``; the gunicorn
master sets a fresh one before it forks its workers.

Series: ``kfunc_requests_total{transport,protocol,code}`` (transport ``http1``, ``h2`` or ``grpc``), ``kfunc_request_duration_seconds{protocol}``
(histogram), ``kfunc_queue_duration_seconds`` (time in the batch queue, histogram),
``kfunc_batch_size`` (requests per predictor call, histogram), ``kfunc_batch_failures_total{rerun}`` and
``kfunc_request_phase_seconds{phase}`` (sum and count per phase of ``functions.timing.PHASES``).
Payload logging (``functions.payload_log``): ``kfunc_logger_events_total{outcome}`` (queued, sent,
dropped, failed), ``kfunc_logger_retries_total``, ``kfunc_logger_queue_events`` and
``kfunc_logger_queue_bytes`` (gauges: what the workers hold unsent) and
``kfunc_logger_sink_duration_seconds`` (one delivery to the sink, histogram).
Generators: ``kfunc_generated_tokens_total``, ``kfunc_time_to_first_token_seconds`` (request
start to its first token) and ``kfunc_first_chunk_delay_seconds`` (a stream's first token to its
chunk written to the connection), histograms.
"""
from __future__ import annotations

import bisect
import mmap
import os
import tempfile
import threading
from pathlib import Path
from time import perf_counter
from typing import Callable, Iterable, Iterator, Protocol

import numpy as np

from .timing import PHASES, RequestTimer

DIR_ENV = "KFUNC_METRICS_DIR"
CONTENT_TYPE = "text/plain; version=1.0.0; charset=utf-8"  # prometheus_client.CONTENT_TYPE_LATEST
TRANSPORTS = ("http1", "h2", "grpc")
PROTOCOLS = ("v1", "v2", "cloudevent", "http", "openai")
CODES = ("200", "400", "401", "403", "404", "405", "409", "413", "415", "422", "429", "500", "502", "503", "504", "other")
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
QUEUE_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256)
LOGGER_OUTCOMES = ("queued", "sent", "dropped", "failed")
SINK_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class _Layout:
    """Slot offsets in a process's file: counters, then histograms (buckets + sum + count), then phases."""

    def __init__(self) -> None:
        self.size = 0
        self.requests = {(t, p, c): self._take(1) for t in TRANSPORTS for p in PROTOCOLS for c in CODES}
        self.latency = {p: self._take(len(LATENCY_BUCKETS) + 3) for p in PROTOCOLS}
        self.queue = self._take(len(QUEUE_BUCKETS) + 3)
        self.batch = self._take(len(BATCH_BUCKETS) + 3)
        self.batch_failures = {rerun: self._take(1) for rerun in ("yes", "no")}
        self.phases = {phase: self._take(2) for phase in PHASES}  # sum, count
        self.logger = {outcome: self._take(1) for outcome in LOGGER_OUTCOMES}
        self.logger_retries = self._take(1)
        self.logger_queue = self._take(2)  # events, bytes: gauges, set (not added) by each process
        self.sink = self._take(len(SINK_BUCKETS) + 3)
        self.generated = self._take(1)
        self.first_token = self._take(len(LATENCY_BUCKETS) + 3)
        self.first_chunk = self._take(len(QUEUE_BUCKETS) + 3)

    def _take(self, count: int) -> int:
        start, self.size = self.size, self.size + count
        return start


LAYOUT = _Layout()
_CODE_OF = {int(code): code for code in CODES if code != "other"}
_PHASE_SLOTS = tuple(LAYOUT.phases[phase] for phase in PHASES)  # each phase's (sum, count) pair starts there


class ProcessSlots:
    """A process's memory-mapped slots (``mapped``, None until mapped) and the lock that guards
    them. A forked child starts with neither, through ``os.register_at_fork``: it maps its own
    file on first use instead of asking for its pid on every update (a system call), and a lock
    another thread held at the fork would stay held in the child."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.mapped: memoryview | None = None
        os.register_at_fork(after_in_child=self._forget)

    def _forget(self) -> None:
        self.lock = threading.Lock()
        self.mapped = None


class _Store(ProcessSlots):
    """This process's request slots, in ``<pid>.metrics`` (created on first use, so after fork)."""

    def slots(self) -> memoryview:
        slots = self.mapped
        if slots is None:
            with self.lock:
                if self.mapped is None:
                    self.mapped = map_slots(metrics_dir() / f"{os.getpid()}.metrics", LAYOUT.size)
                slots = self.mapped
        return slots


def map_slots(path: Path, count: int) -> memoryview:
    """``count`` float64 slots in the file at ``path`` (created or resized), memory-mapped."""
    size = count * 8
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        if os.fstat(fd).st_size != size:
            os.ftruncate(fd, size)
        return memoryview(mmap.mmap(fd, size)).cast("d")
    finally:
        os.close(fd)


class Listener(Protocol):
    """Also told of every measurement (the OpenTelemetry metrics bridge is one)."""

    def request(self, protocol: str, status: int, latency: float, phases: tuple[float, ...] | None) -> None: ...

    def batch(self, size: int, queue_seconds: list[float]) -> None: ...


_store = _Store()
_private_dir: Path | None = None
_listeners: list[Listener] = []
_collectors: dict[str, Callable[[Path], Iterable]] = {}


def add_listener(listener: Listener) -> None:
    _listeners.append(listener)


def set_collector(name: str, families: Callable[[Path], Iterable]) -> None:
    """Also expose ``families(metrics_dir)`` (``prometheus_client`` metric families) at ``/metrics``;
    a later one of the same ``name`` replaces the earlier."""
    _collectors[name] = families


def metrics_dir() -> Path:
    """``KFUNC_METRICS_DIR``, else a directory private to this process tree."""
    global _private_dir
    configured = os.environ.get(DIR_ENV)
    if configured:
        return Path(configured)
    if _private_dir is None:
        _private_dir = Path(tempfile.mkdtemp(prefix="kfunc-metrics-"))
    return _private_dir


def _observe(slots: memoryview, base: int, bounds: tuple[float, ...], value: float) -> None:
    slots[base + bisect.bisect_left(bounds, value)] += 1
    slots[base + len(bounds) + 1] += value
    slots[base + len(bounds) + 2] += 1


def record_request(transport: str, protocol: str, status: int, timer: RequestTimer) -> float:
    """Count one finished inference request and its latency and phases; returns the latency.
    ``status`` is the HTTP status (a gRPC answer's equivalent)."""
    end = perf_counter()
    latency = end - timer.start
    phases = timer.phases(end)
    counter = LAYOUT.requests[transport, protocol, _CODE_OF.get(status, "other")]
    slots = _store.slots()
    with _store.lock:
        slots[counter] += 1
        _observe(slots, LAYOUT.latency[protocol], LATENCY_BUCKETS, latency)
        if phases is not None:
            for base, seconds in zip(_PHASE_SLOTS, phases):
                slots[base] += seconds
                slots[base + 1] += 1
    for listener in _listeners:
        listener.request(protocol, status, latency, phases)
    return latency


def record_batch(size: int, queue_seconds: list[float]) -> None:
    """One predictor call on ``size`` stacked requests, each having waited ``queue_seconds``."""
    slots = _store.slots()
    with _store.lock:
        _observe(slots, LAYOUT.batch, BATCH_BUCKETS, size)
        for seconds in queue_seconds:
            _observe(slots, LAYOUT.queue, QUEUE_BUCKETS, seconds)
    for listener in _listeners:
        listener.batch(size, queue_seconds)


def count_logged(outcome: str, events: int = 1) -> None:
    """``events`` payload-log events that were queued, sent, dropped or failed."""
    slots = _store.slots()
    with _store.lock:
        slots[LAYOUT.logger[outcome]] += events


def record_sink(seconds: float, retried: bool) -> None:
    """One delivery attempt to the payload-log sink, ``retried`` when it is to be repeated."""
    slots = _store.slots()
    with _store.lock:
        _observe(slots, LAYOUT.sink, SINK_BUCKETS, seconds)
        if retried:
            slots[LAYOUT.logger_retries] += 1


def set_logger_queue(events: int, size: int) -> None:
    """What this process's payload-log queue holds now."""
    slots = _store.slots()
    slots[LAYOUT.logger_queue] = events
    slots[LAYOUT.logger_queue + 1] = size


def record_batch_failure(*, rerun: bool) -> None:
    """A predictor call on several requests raised; ``rerun``: each request was run again alone."""
    slots = _store.slots()
    with _store.lock:
        slots[LAYOUT.batch_failures["yes" if rerun else "no"]] += 1


def record_generation(tokens: int = 0, first_token_s: float | None = None,
                      first_chunk_delay_s: float | None = None) -> None:
    """Tokens a generator produced; a request's time to its first token; the delay from a
    stream's first token to its first chunk leaving."""
    slots = _store.slots()
    with _store.lock:
        slots[LAYOUT.generated] += tokens
        if first_token_s is not None:
            _observe(slots, LAYOUT.first_token, LATENCY_BUCKETS, first_token_s)
        if first_chunk_delay_s is not None:
            _observe(slots, LAYOUT.first_chunk, QUEUE_BUCKETS, first_chunk_delay_s)


def totals(directory: Path | None = None) -> np.ndarray:
    """Every process's slots under the directory, summed."""
    total = np.zeros(LAYOUT.size)
    for path in (directory or metrics_dir()).glob("*.metrics"):
        values = np.fromfile(path, dtype=np.float64)
        if values.size == LAYOUT.size:
            total += values
    return total


def exposition(directory: Path | None = None) -> bytes:
    """The summed metrics in the Prometheus text format, written by ``prometheus_client``
    (imported here, on the first scrape, not during the start)."""
    from prometheus_client import CollectorRegistry, generate_latest

    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Collector(totals(directory), directory or metrics_dir()))
    return generate_latest(registry)


class _Collector:
    """The summed slots as Prometheus metric families (a ``prometheus_client`` custom collector)."""

    def __init__(self, total: np.ndarray, directory: Path) -> None:
        self.total = total
        self.directory = directory

    def collect(self) -> Iterator:
        from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily, SummaryMetricFamily

        total = self.total
        requests = CounterMetricFamily("kfunc_requests", "Inference requests answered, by transport, protocol "
                                       "and HTTP status code.", labels=("transport", "protocol", "code"))
        for labels, index in LAYOUT.requests.items():
            if total[index]:
                requests.add_metric(labels, total[index])
        yield requests
        latency = HistogramMetricFamily("kfunc_request_duration_seconds", "Inference request latency in the "
                                        "server, seconds.", labels=("protocol",))
        for protocol, base in LAYOUT.latency.items():
            if total[base + len(LATENCY_BUCKETS) + 2]:
                latency.add_metric([protocol], *_histogram(total, base, LATENCY_BUCKETS))
        yield latency
        for name, help_text, base, bounds in (
                ("kfunc_queue_duration_seconds", "Time a request waited in the batch queue, seconds.",
                 LAYOUT.queue, QUEUE_BUCKETS),
                ("kfunc_batch_size", "Requests stacked into one predictor call.", LAYOUT.batch, BATCH_BUCKETS),
                ("kfunc_time_to_first_token_seconds", "Time from a generation request's start to its first "
                 "token, seconds.", LAYOUT.first_token, LATENCY_BUCKETS),
                ("kfunc_first_chunk_delay_seconds", "Time from a stream's first token to its chunk written "
                 "to the connection, seconds.", LAYOUT.first_chunk, QUEUE_BUCKETS)):
            family = HistogramMetricFamily(name, help_text)
            family.add_metric([], *_histogram(total, base, bounds))
            yield family
        failures = CounterMetricFamily("kfunc_batch_failures", "Predictor calls on several requests that raised, "
                                       "by whether each request was then run again alone.", labels=("rerun",))
        for rerun, index in LAYOUT.batch_failures.items():
            failures.add_metric([rerun], total[index])
        yield failures
        phases = SummaryMetricFamily("kfunc_request_phase_seconds", "Time inference requests spent per phase, "
                                     "seconds.", labels=("phase",))
        for phase, base in LAYOUT.phases.items():
            phases.add_metric([phase], count_value=total[base + 1], sum_value=total[base])
        yield phases
        generated = CounterMetricFamily("kfunc_generated_tokens", "Tokens generators produced.")
        generated.add_metric([], total[LAYOUT.generated])
        yield generated
        yield from _logger_families(total)
        for families in list(_collectors.values()):
            yield from families(self.directory)


def _logger_families(total: np.ndarray) -> Iterator:
    from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily

    events = CounterMetricFamily("kfunc_logger_events", "Payload-log events, by outcome: queued, sent, "
                                 "dropped (queue full) and failed (sink refused, retries exhausted, or unsent "
                                 "at exit).", labels=("outcome",))
    for outcome, index in LAYOUT.logger.items():
        events.add_metric([outcome], total[index])
    yield events
    yield CounterMetricFamily("kfunc_logger_retries", "Payload-log deliveries repeated after a 5xx or a "
                              "connection error.", value=total[LAYOUT.logger_retries])
    yield GaugeMetricFamily("kfunc_logger_queue_events", "Payload-log events waiting to be sent.",
                            value=total[LAYOUT.logger_queue])
    yield GaugeMetricFamily("kfunc_logger_queue_bytes", "Payload bytes waiting to be sent.",
                            value=total[LAYOUT.logger_queue + 1])
    sink = HistogramMetricFamily("kfunc_logger_sink_duration_seconds", "One delivery to the payload-log "
                                 "sink (an event over HTTP, an object to S3), seconds.")
    sink.add_metric([], *_histogram(total, LAYOUT.sink, SINK_BUCKETS))
    yield sink


def _histogram(total: np.ndarray, base: int, bounds: tuple[float, ...]) -> tuple[list[tuple[str, float]], float]:
    """(cumulative buckets, sum) of the histogram at ``base``."""
    from prometheus_client.utils import floatToGoString

    cumulative = np.cumsum(total[base:base + len(bounds) + 1])
    buckets = [(floatToGoString(bound), float(count)) for bound, count in zip([*bounds, float("inf")], cumulative)]
    return buckets, float(total[base + len(bounds) + 1])
