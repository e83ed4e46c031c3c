"""Per-model metrics, summed over the pod's processes as ``functions.metrics`` does for requests.

Each process keeps its slots in ``<metrics dir>/<pid>.models`` (one row of ``FIELDS`` per model, in
the registry's order, which every process of the pod shares). Counters are summed over every file
(exited workers' too, so they never go back); the gauges ``bytes`` and ``waiting`` over live processes only.

Series: ``kfunc_model_hits_total``, ``kfunc_model_misses_total`` (requests that waited for a load),
``kfunc_model_loads_total``, ``kfunc_model_load_failures_total``, ``kfunc_model_evictions_total``,
``kfunc_model_load_seconds_total``, ``kfunc_model_resident_bytes``, ``kfunc_model_waiting_requests``,
each labelled ``model`` (``name`` or ``name/version``).
"""
from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Iterable

import numpy as np

from .. import metrics
from .memory import process_alive

COUNTERS = {"hits": "Requests that found their model loaded.",
            "misses": "Requests that waited for their model to load.",
            "loads": "Model loads that succeeded.",
            "load_failures": "Model loads that failed.",
            "evictions": "Models evicted to stay under the memory budget.",
            "load_seconds": "Seconds spent loading models (fetch included)."}
GAUGES = {"bytes": ("kfunc_model_resident_bytes", "Bytes a loaded model holds (measured at load)."),
          "waiting": ("kfunc_model_waiting_requests", "Requests waiting for their model to load.")}
FIELDS = (*COUNTERS, *GAUGES)
SUFFIX = ".models"


class ModelMetrics:
    """This process's per-model slots (mapped on first use, so after fork)."""

    def __init__(self, keys: list[str]) -> None:
        self.keys = keys
        self._row = {key: i * len(FIELDS) for i, key in enumerate(keys)}
        self._field = {name: i for i, name in enumerate(FIELDS)}
        self._lock = threading.Lock()
        self._pid = -1
        self._slots: memoryview | None = None
        metrics.set_collector("models", self.families)

    def _mapped(self) -> memoryview:
        if self._pid != os.getpid():
            with self._lock:
                if self._pid != os.getpid():
                    path = metrics.metrics_dir() / f"{os.getpid()}{SUFFIX}"
                    self._slots = metrics.map_slots(path, len(self.keys) * len(FIELDS))
                    self._pid = os.getpid()
        assert self._slots is not None
        return self._slots

    def count(self, key: str, name: str, amount: float = 1.0) -> None:
        slots = self._mapped()
        with self._lock:
            slots[self._row[key] + self._field[name]] += amount

    gauge_add = count  # gauges are per process: each adds and takes back its own share

    def totals(self, directory: Path) -> tuple[np.ndarray, np.ndarray]:
        """(counters summed over every process, gauges over live ones), shaped (models, fields)."""
        shape = (len(self.keys), len(FIELDS))
        every, live = np.zeros(shape), np.zeros(shape)
        for path in directory.glob(f"*{SUFFIX}"):
            values = np.fromfile(path, dtype=np.float64)
            if values.size != every.size:
                continue
            values = values.reshape(shape)
            every += values
            if process_alive(int(path.stem)):
                live += values
        return every, live

    def families(self, directory: Path) -> Iterable:
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        every, live = self.totals(directory)
        for column, (name, help_text) in enumerate(COUNTERS.items()):
            family = CounterMetricFamily(f"kfunc_model_{name}", help_text, labels=("model",))
            for row, key in enumerate(self.keys):
                family.add_metric([key], every[row, column])
            yield family
        for offset, (metric, help_text) in enumerate(GAUGES.values()):
            family = GaugeMetricFamily(metric, help_text, labels=("model",))
            for row, key in enumerate(self.keys):
                family.add_metric([key], max(0.0, live[row, len(COUNTERS) + offset]))
            yield family

