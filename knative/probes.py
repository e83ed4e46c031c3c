"""Health probes and the startup budget a model load needs.

A cold pod downloads the model (assume ~1 GB/min from object storage) and then loads it. The
kubelet's startup probe must allow all of that, or it kills the container mid-load; Knative's
``serving.knative.dev/progress-deadline`` must outlast the startup probe, or the revision fails
while the model is still loading. Readiness (run by queue-proxy) and liveness start afterwards.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

PORT = 8080
READY_PATH = "/v2/health/ready"
LIVE_PATH = "/v2/health/live"
DOWNLOAD_GB_PER_MINUTE = 1.0
LOAD_SECONDS_PER_GB = 15.0
BASE_SECONDS = 30.0  # interpreter start, imports, first bytes
SAFETY_FACTOR = 1.5
DEFAULT_MODEL_GB = 1.0
PERIOD_SECONDS = 10
MAX_STARTUP_SECONDS = 3600
SCHEDULING_MARGIN_SECONDS = 120  # image pull and scheduling happen before the startup probe runs
KNATIVE_DEFAULT_DEADLINE_SECONDS = 600


@dataclass(frozen=True)
class StartupPlan:
    """How long a pod may take to become ready, derived from the model size."""

    expected_seconds: int
    budget_seconds: int
    deadline_seconds: int

    @property
    def capped(self) -> bool:
        """True when a cold load is expected to outlast the cap (pre-fill a pvc/hostPath cache)."""
        return self.expected_seconds > self.budget_seconds

    @property
    def failure_threshold(self) -> int:
        return self.budget_seconds // PERIOD_SECONDS


def plan_startup(model_size_gb: float | None) -> StartupPlan:
    """Startup probe budget: 1.5x (download + load), in whole periods, at most one hour."""
    size = model_size_gb or DEFAULT_MODEL_GB
    expected = BASE_SECONDS + size * 60.0 / DOWNLOAD_GB_PER_MINUTE + size * LOAD_SECONDS_PER_GB
    padded = math.ceil(expected * SAFETY_FACTOR / PERIOD_SECONDS) * PERIOD_SECONDS
    budget = min(MAX_STARTUP_SECONDS, padded)
    deadline = max(KNATIVE_DEFAULT_DEADLINE_SECONDS, budget + SCHEDULING_MARGIN_SECONDS)
    return StartupPlan(math.ceil(expected), budget, deadline)


def startup_probe(plan: StartupPlan) -> dict:
    """Kubelet probe on readiness: passes once the model is loaded; fails the pod only past the budget."""
    return {"httpGet": {"path": READY_PATH, "port": PORT}, "periodSeconds": PERIOD_SECONDS,
            "timeoutSeconds": 5, "failureThreshold": plan.failure_threshold}


def readiness_probe(port: int | None = None) -> dict:
    """Queue-proxy probe without a port; periodSeconds 0 (omitted) is Knative's fast probing for quick
    cold starts. With a ``port`` (no Knative) the kubelet probes, every period."""
    if port is None:
        return {"httpGet": {"path": READY_PATH}, "successThreshold": 1}
    return {"httpGet": {"path": READY_PATH, "port": port}, "periodSeconds": PERIOD_SECONDS, "timeoutSeconds": 5,
            "successThreshold": 1, "failureThreshold": 3}


def liveness_probe() -> dict:
    """Restarts a hung server once it has started; never runs during the load (startup probe first)."""
    return {"httpGet": {"path": LIVE_PATH, "port": PORT}, "periodSeconds": PERIOD_SECONDS,
            "timeoutSeconds": 5, "failureThreshold": 3}
