"""Knative autoscaling annotations: their keys and the value ranges Knative's webhook enforces.

Ranges follow knative/serving ``pkg/apis/autoscaling/annotation_validation.go``. Each check
returns an error message or None, so ``kfunc.yaml`` parsing and manifest validation share them.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from .values import check_duration

PREFIX = "autoscaling.knative.dev/"
CLASS = PREFIX + "class"
METRIC = PREFIX + "metric"
MIN_SCALE = PREFIX + "min-scale"
MAX_SCALE = PREFIX + "max-scale"
INITIAL_SCALE = PREFIX + "initial-scale"
ACTIVATION_SCALE = PREFIX + "activation-scale"
TARGET = PREFIX + "target"
UTILIZATION = PREFIX + "target-utilization-percentage"
BURST_CAPACITY = PREFIX + "target-burst-capacity"
WINDOW = PREFIX + "window"
PANIC_WINDOW = PREFIX + "panic-window-percentage"
PANIC_THRESHOLD = PREFIX + "panic-threshold-percentage"
SCALE_DOWN_DELAY = PREFIX + "scale-down-delay"
RETENTION = PREFIX + "scale-to-zero-pod-retention-period"

KPA = "kpa.autoscaling.knative.dev"
HPA = "hpa.autoscaling.knative.dev"
HOUR = 3600.0
INT32_MAX = 2**31 - 1


@dataclass(frozen=True)
class ServingLimits:
    """Cluster settings the webhook checks against (defaults of config-defaults/config-autoscaler)."""

    max_revision_timeout_seconds: int = 600
    container_concurrency_max: int = 1000
    allow_zero_initial_scale: bool = False

    @classmethod
    def from_configmaps(cls, defaults: dict[str, str] | None, autoscaler: dict[str, str] | None) -> "ServingLimits":
        """Read the cluster's knative-serving/config-defaults and config-autoscaler data (missing keys: defaults)."""
        defaults, autoscaler, base = defaults or {}, autoscaler or {}, cls()
        try:
            return cls(
                max_revision_timeout_seconds=int(defaults.get("max-revision-timeout-seconds", base.max_revision_timeout_seconds)),
                container_concurrency_max=int(defaults.get("container-concurrency-max-limit", base.container_concurrency_max)),
                allow_zero_initial_scale=str(autoscaler.get("allow-zero-initial-scale", "false")).lower() == "true")
        except ValueError:
            return base


def check_scale(value: int) -> str | None:
    """min-scale / max-scale: an integer from 0 (0 max-scale means unlimited)."""
    return None if 0 <= value <= INT32_MAX else f"must be 0 to {INT32_MAX}"


def check_initial_scale(value: int, limits: ServingLimits = ServingLimits()) -> str | None:
    if value < 0:
        return "must be 0 or more"
    if value == 0 and not limits.allow_zero_initial_scale:
        return "0 needs allow-zero-initial-scale: \"true\" in knative-serving/config-autoscaler; use 1 or more"
    return None


def check_activation_scale(value: int) -> str | None:
    return None if value >= 2 else "must be 2 or more (1 is the default; remove it instead)"


def check_target(value: float) -> str | None:
    return None if value >= 0.01 else "must be at least 0.01"


def check_utilization(value: float) -> str | None:
    return None if 1 <= value <= 100 else "must be 1 to 100 (percent)"


def check_burst_capacity(value: float) -> str | None:
    return None if value >= 0 or value == -1 else "must be -1 (unlimited), 0, or more"


def check_window(text: str) -> str | None:
    return check_duration(text, 6, HOUR)


def check_scale_down_delay(text: str) -> str | None:
    return check_duration(text, 0, HOUR)


def check_retention(text: str) -> str | None:
    return check_duration(text, 0, HOUR, whole_seconds=False)


def _number(parse: type, check: Callable) -> Callable[[str], str | None]:
    def checker(text: str) -> str | None:
        try:
            value = parse(text)
        except ValueError:
            return f"{text!r} is not {'an integer' if parse is int else 'a number'}"
        return check(value)
    return checker


def _in_range(low: float, high: float) -> Callable[[float], str | None]:
    return lambda v: None if low <= v <= high else f"must be {low:g} to {high:g}"


def annotation_checks(limits: ServingLimits) -> dict[str, Callable[[str], str | None]]:
    """Key -> check of the annotation's string value."""
    return {
        MIN_SCALE: _number(int, check_scale),
        MAX_SCALE: _number(int, check_scale),
        INITIAL_SCALE: _number(int, lambda v: check_initial_scale(v, limits)),
        ACTIVATION_SCALE: _number(int, check_activation_scale),
        TARGET: _number(float, check_target),
        UTILIZATION: _number(float, check_utilization),
        BURST_CAPACITY: _number(float, check_burst_capacity),
        PANIC_WINDOW: _number(float, _in_range(1, 100)),
        PANIC_THRESHOLD: _number(float, _in_range(110, 1000)),
        WINDOW: check_window,
        SCALE_DOWN_DELAY: check_scale_down_delay,
        RETENTION: check_retention,
    }


def check_class(value: str) -> str | None:
    if value.endswith(".autoscaling.knative.dev") and value not in (KPA, HPA):
        return f"{value!r} is not an autoscaler class; use {KPA} or {HPA}"
    return None


def check_metric(metric: str, autoscaler_class: str) -> str | None:
    """KPA scales on concurrency or rps; HPA on cpu/memory/custom metrics; other classes are not checked."""
    if autoscaler_class == KPA and metric not in ("concurrency", "rps"):
        return f"{metric!r} is not a KPA metric; use concurrency or rps"
    if autoscaler_class == HPA and not metric:
        return "must name a metric for the HPA class (cpu or memory)"
    return None
