"""Progressive rollout: move traffic to a new version step by step, analyse each step, roll back on failure.

The controller is given how to apply a split (``apply``), where to read metrics, and its clock
and sleep, so it runs the same against a cluster, the local mesh, or a test with no waiting.
Each step logs one line before it waits and one with its verdict.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable

from functions.errors import ConfigError, KFuncError
from knative.values import parse_duration

from .hosts import version_service
from .metrics import MetricsSource, Sample
from .plan import TrafficPlan, spell_weights


@dataclass(frozen=True)
class Thresholds:
    """What a step must show: error rate (a fraction), p99 latency, and enough requests to judge."""

    max_error_rate: float = 0.01
    max_p99_ms: float | None = None
    min_requests: int = 1

    def failures(self, sample: Sample) -> list[str]:
        if sample.requests < self.min_requests:
            return [f"only {sample.requests:g} requests reached it (want at least {self.min_requests}); "
                    "send traffic during the rollout or lower --min-requests"]
        problems = []
        if sample.error_rate > self.max_error_rate:
            problems.append(f"error rate {sample.error_rate:.2%} is above {self.max_error_rate:.2%}")
        if self.max_p99_ms is not None and sample.p99_ms is not None and sample.p99_ms > self.max_p99_ms:
            problems.append(f"p99 {sample.p99_ms:g}ms is above {self.max_p99_ms:g}ms")
        return problems

    def describe(self) -> str:
        parts = [f"error rate <= {self.max_error_rate:.2%}"]
        if self.max_p99_ms is not None:
            parts.append(f"p99 <= {self.max_p99_ms:g}ms")
        return ", ".join(parts) + f", at least {self.min_requests} request(s)"


@dataclass(frozen=True)
class RolloutPlan:
    """Move ``base`` from ``stable`` to ``target`` through ``steps`` percents, ``interval_s`` apart."""

    base: TrafficPlan
    stable: str
    target: str
    steps: tuple[int, ...]
    interval_s: float
    thresholds: Thresholds = Thresholds()

    def __post_init__(self) -> None:
        if self.stable == self.target:
            raise ConfigError(f"--to {self.target}: that version already serves; roll out another one")
        for version in (self.stable, self.target):
            if version not in self.base.versions:
                raise ConfigError(f"version {version!r} is not one of {', '.join(self.base.versions)}")
        if not self.steps or any(not 0 < s <= 100 for s in self.steps) or list(self.steps) != sorted(set(self.steps)):
            raise ConfigError(f"--steps {','.join(map(str, self.steps))}: give increasing percents in 1-100, e.g. 5,25,50,100")
        if self.steps[-1] != 100:
            raise ConfigError(f"--steps {','.join(map(str, self.steps))}: the last step must be 100")
        if self.interval_s <= 0:
            raise ConfigError("--interval: must be above 0, e.g. 60s")

    def at(self, percent: int) -> TrafficPlan:
        return self.base.with_weights({self.stable: 100 - percent, self.target: percent})

    def describe(self) -> list[str]:
        lines = [f"step {i}/{len(self.steps)}: {spell_weights(self.at(p).weights)}, then watch {self.interval_s:g}s: "
                 f"{self.thresholds.describe()}" for i, p in enumerate(self.steps, 1)]
        return lines + [f"on a failed check: {spell_weights(self.base.all_to(self.stable).weights)} (roll back)"]


@dataclass
class RolloutResult:
    succeeded: bool
    final: TrafficPlan
    reached_percent: int
    reasons: list[str] = field(default_factory=list)


class RolloutController:
    def __init__(self, apply: Callable[[TrafficPlan], None], metrics: MetricsSource, log: Callable[[str], None],
                 sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.monotonic) -> None:
        self.apply = apply
        self.metrics = metrics
        self.log = log
        self.sleep = sleep
        self.clock = clock

    def run(self, plan: RolloutPlan) -> RolloutResult:
        service = version_service(plan.base.function, plan.target)
        reached = 0
        for index, percent in enumerate(plan.steps, 1):
            step_plan = plan.at(percent)
            self.apply(step_plan)
            started = self.clock()
            self.log(f"step {index}/{len(plan.steps)}: {spell_weights(step_plan.weights)} applied; "
                     f"analysing {service} for {plan.interval_s:g}s")
            self.sleep(plan.interval_s)
            reasons, sample = self._analyse(plan, service, self.clock() - started)
            if reasons:
                return self._roll_back(plan, reached, index, reasons)
            reached = percent
            self.log(f"step {index}/{len(plan.steps)}: ok ({_spell_sample(sample)})")
        self.log(f"rollout of {plan.target} complete: {spell_weights(plan.at(100).weights)}")
        return RolloutResult(True, plan.at(100), 100)

    def _analyse(self, plan: RolloutPlan, service: str, window_s: float) -> tuple[list[str], Sample | None]:
        try:
            sample = self.metrics.sample(service, plan.base.namespace, window_s)
        except KFuncError as exc:
            return [f"metrics unavailable: {exc}"], None
        return plan.thresholds.failures(sample), sample

    def _roll_back(self, plan: RolloutPlan, reached: int, index: int, reasons: list[str]) -> RolloutResult:
        final = plan.base.all_to(plan.stable)
        self.log(f"step {index}/{len(plan.steps)}: FAILED: {'; '.join(reasons)}; rolling back to "
                 f"{spell_weights(final.weights)}")
        self.apply(final)
        self.log(f"rolled back: {plan.stable} serves 100%")
        return RolloutResult(False, final, reached, reasons)


def _spell_sample(sample: Sample | None) -> str:
    if sample is None:
        return "no sample"
    p99 = "n/a" if sample.p99_ms is None else f"{sample.p99_ms:g}ms"
    return f"{sample.requests:g} requests, error rate {sample.error_rate:.2%}, p99 {p99}"


def parse_percent(text: str, option: str) -> float:
    """``1%`` or ``0.5%`` -> a fraction (0.01, 0.005)."""
    try:
        value = float(text.strip().rstrip("%"))
    except ValueError:
        raise ConfigError(f"{option} {text!r}: write a percent like 1% or 0.5%") from None
    if not 0 <= value <= 100:
        raise ConfigError(f"{option} {text!r}: use 0% to 100%")
    return value / 100


def parse_seconds(text: str, option: str) -> float:
    """``60s``, ``2m``, ``300ms`` -> seconds."""
    seconds = parse_duration(text)
    if seconds is None or seconds <= 0:
        raise ConfigError(f"{option} {text!r}: write a duration like 300ms, 60s or 2m")
    return seconds


def parse_steps(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in text.split(","))
    except ValueError:
        raise ConfigError(f"--steps {text!r}: write comma-separated percents, e.g. 5,25,50,100") from None
