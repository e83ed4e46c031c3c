"""How many processes and threads serve a function, and how many torch threads each process runs.

Unless ``runtime.workers``/``runtime.threads`` say otherwise:

- one worker process per GPU for a model on CUDA, else one per core: Python runs one thread
  at a time per process, and one torch intra-op thread per process keeps torch's spin-waiting
  OpenMP threads from fighting over the cores (``workers x torch threads <= cores`` always);
- per worker, enough threads for a full batch (``max_batch_size``) when the predictor batches,
  else ``DEFAULT_THREADS``, so a request can be read while another one runs the model.

The core count is ``KFUNC_CPUS`` (what ``kfunc deploy`` sets from the pod's CPU), else the
container's CPU quota (cgroup ``cpu.max``), else the cores this process may run on.
``KFUNC_TORCH_THREADS`` overrides the torch threads.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

from .config import BatchSettings, RuntimeSection

CPUS_ENV = "KFUNC_CPUS"
TORCH_THREADS_ENV = "KFUNC_TORCH_THREADS"
DEFAULT_THREADS = 4
_CGROUP_V2 = Path("/sys/fs/cgroup/cpu.max")
_CGROUP_V1 = (Path("/sys/fs/cgroup/cpu/cpu.cfs_quota_us"), Path("/sys/fs/cgroup/cpu/cpu.cfs_period_us"))


@dataclass(frozen=True)
class Plan:
    """Worker processes, threads per worker, torch intra-op threads per worker."""

    workers: int
    threads: int
    torch_threads: int

    @property
    def concurrency(self) -> int:
        """Requests the server works on at once: Knative's ``containerConcurrency``."""
        return self.workers * self.threads


def plan(runtime: RuntimeSection, *, cpus: int, gpus: int = 0, batch: BatchSettings | None = None,
         workers: int | None = None, threads: int | None = None) -> Plan:
    """The plan for ``cpus`` cores and ``gpus`` GPUs the model uses; ``workers``/``threads``
    (command line, environment) win over ``runtime``, which wins over the defaults."""
    chosen_workers = workers or runtime.workers or (gpus if gpus > 0 else max(1, cpus))
    chosen_threads = threads or runtime.threads or max(DEFAULT_THREADS, batch.max_batch_size if batch else 0)
    configured = os.environ.get(TORCH_THREADS_ENV)
    torch_threads = max(1, int(configured)) if configured else max(1, cpus // chosen_workers)
    return Plan(chosen_workers, chosen_threads, torch_threads)


def available_cpus() -> int:
    """Whole cores this container may use (see the module docstring), at least 1."""
    configured = os.environ.get(CPUS_ENV)
    if configured:
        return max(1, math.ceil(float(configured)))
    quota = _cgroup_quota()
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, min(cores, math.ceil(quota)) if quota else cores)


def _cgroup_quota() -> float | None:
    """The CPU quota in cores (cgroup v2, else v1), or None when unlimited or unknown."""
    try:
        quota, period = _CGROUP_V2.read_text().split()[:2]
        return None if quota == "max" else int(quota) / int(period)
    except (OSError, ValueError):
        pass
    try:
        quota_us, period_us = (int(path.read_text()) for path in _CGROUP_V1)
    except (OSError, ValueError):
        return None
    return quota_us / period_us if quota_us > 0 else None
