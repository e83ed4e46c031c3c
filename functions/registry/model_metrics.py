"""Per-model metrics, summed over the pod's processes as ``functions.metrics`` does for requests.

Each process keeps its slots in ``<metrics dir>/<pid>.models`` (one row of ``FIELDS`` per model, in
the order that process listed them, written beside it in ``<pid>.models.keys``: a worker that
listed the repository again has rows the others lack). Counters are summed over every file
(exited workers' too, so they never go back); the gauges ``bytes`` and ``waiting`` over live processes only.

Series: ``kfunc_model_hits_total``, ``kfunc_model_misses_total`` (requests that waited for a load),
``kfunc_model_loads_total``, ``kfunc_model_load_failures_total``, ``kfunc_model_evictions_total``,
``kfunc_model_load_seconds_total``, ``kfunc_model_resident_bytes``, ``kfunc_model_waiting_requests``,
each labelled ``model`` (``name`` or ``name/version``).
"""
from __future__ import annotations

import json
import os
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
KEYS = ".keys"


class ModelMetrics:
    """This process's per-model slots (mapped on first use, so after fork), a row per model ``add``ed."""

    def __init__(self) -> None:
        self.keys: list[str] = []
        self._row: dict[str, int] = {}
        self._field = {name: i for i, name in enumerate(FIELDS)}
        self._store = metrics.ProcessSlots()  # this process's (a forked child maps its own)
        metrics.set_collector("models", self.families)

    def add(self, key: str) -> None:
        """A row for model ``key`` (a model the repository listed later: the file grows)."""
        with self._store.lock:
            if key in self._row:
                return
            self._row[key] = len(self.keys) * len(FIELDS)
            self.keys.append(key)
            if self._store.mapped is not None:
                self._map()

    def _map(self) -> None:
        """Map (or grow) this process's file, then write its row order beside it (under the lock)."""
        path = metrics.metrics_dir() / f"{os.getpid()}{SUFFIX}"
        self._store.mapped = metrics.map_slots(path, len(self.keys) * len(FIELDS))
        scratch = Path(f"{path}{KEYS}.tmp")
        scratch.write_text(json.dumps(self.keys))
        os.replace(scratch, f"{path}{KEYS}")

    def count(self, key: str, name: str, amount: float = 1.0) -> None:
        with self._store.lock:
            if self._store.mapped is None:
                self._map()
            assert self._store.mapped is not None
            self._store.mapped[self._row[key] + self._field[name]] += amount

    gauge_add = count  # gauges are per process: each adds and takes back its own share

    def totals(self, directory: Path) -> tuple[list[str], np.ndarray, np.ndarray]:
        """(the models, counters summed over every process, gauges over live ones), shaped
        (models, fields): each process's rows matched by its own row order, models only other
        processes listed included."""
        every: dict[str, np.ndarray] = {}
        live: dict[str, np.ndarray] = {}
        for path in directory.glob(f"*{SUFFIX}"):
            try:
                names = json.loads(Path(f"{path}{KEYS}").read_text())
            except (OSError, ValueError):
                continue  # a process between mapping its file and naming its rows
            values = np.fromfile(path, dtype=np.float64)
            if values.size < len(names) * len(FIELDS):
                continue
            alive = process_alive(int(path.stem))
            for key, row in zip(names, values[:len(names) * len(FIELDS)].reshape(-1, len(FIELDS))):
                every[key] = every.get(key, 0) + row
                if alive:
                    live[key] = live.get(key, 0) + row
        keys = self.keys + sorted(set(every) - set(self.keys))
        zero = np.zeros(len(FIELDS))
        return (keys, np.array([every.get(k, zero) for k in keys]).reshape(-1, len(FIELDS)),
                np.array([live.get(k, zero) for k in keys]).reshape(-1, len(FIELDS)))

    def families(self, directory: Path) -> Iterable:
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        keys, every, live = self.totals(directory)
        for column, (name, help_text) in enumerate(COUNTERS.items()):
            family = CounterMetricFamily(f"kfunc_model_{name}", help_text, labels=("model",))
            for row, key in enumerate(keys):
                family.add_metric([key], every[row, column])
            yield family
        for offset, (metric, help_text) in enumerate(GAUGES.values()):
            family = GaugeMetricFamily(metric, help_text, labels=("model",))
            for row, key in enumerate(keys):
                family.add_metric([key], max(0.0, live[row, len(COUNTERS) + offset]))
            yield family
