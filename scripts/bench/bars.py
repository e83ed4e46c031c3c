"""The performance bars of the throughput issue, checked on the medians of one run.

Each bar compares kfunc with a reference measured in the same run: KServe's ModelServer, or
the bare ASGI MLP app on the same worker. A bar whose cells were not measured is left out.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from scripts.bench.report import Cell


@dataclass(frozen=True)
class Bar:
    """``kfunc``'s ``metric`` at (workload, V2, concurrency) against ``factor`` x the reference's."""

    workload: str
    concurrency: int
    metric: str  # "requests_per_s" (higher is better) or a latency (lower is better)
    reference: str
    factor: float

    def describe(self) -> str:
        label = {"requests_per_s": "req/s", "p50_ms": "p50", "p99_ms": "p99"}[self.metric]
        if self.metric == "requests_per_s":
            return f"{self.workload} c={self.concurrency}: {label} >= {self.factor:g}x {self.reference}"
        limit = "no worse than" if self.factor == 1 else f"within {self.factor:g}x of"
        return f"{self.workload} c={self.concurrency}: {label} {limit} {self.reference}"

    def check(self, cells: dict[tuple[str, str, str, int], Cell]) -> dict[str, Any] | None:
        ours = cells.get((self.workload, "kfunc", "v2", self.concurrency))
        theirs = cells.get((self.workload, self.reference, "v2", self.concurrency))
        if ours is None or theirs is None:
            return None
        ratio = ours.median(self.metric) / theirs.median(self.metric)
        met = ratio >= self.factor if self.metric == "requests_per_s" else ratio <= self.factor
        return {"bar": self.describe(), "kfunc": ours.median(self.metric), self.reference: theirs.median(self.metric),
                "ratio": ratio, "met": met}


BARS = (  # issue 10's bars
    Bar("mlp", 32, "requests_per_s", "asgi", 0.8),
    Bar("mlp", 1, "p50_ms", "asgi", 1.3),
    Bar("mlp", 32, "requests_per_s", "kserve", 4.0),
    Bar("mlp", 32, "p99_ms", "kserve", 1.0),
    Bar("minilm", 32, "requests_per_s", "kserve", 2.0),
    Bar("minilm", 32, "p99_ms", "kserve", 1.0),
    Bar("minilm", 1, "p50_ms", "kserve", 1.0),
)


def check_bars(cells: list[Cell]) -> list[dict[str, Any]]:
    """Every bar the run measured, with kfunc's and the reference's medians, the ratio and the verdict."""
    by_key = {(c.workload, c.target, c.protocol, c.concurrency): c for c in cells}
    return [result for bar in BARS if (result := bar.check(by_key)) is not None]


def bars_text(results: list[dict[str, Any]]) -> str:
    lines = []
    for result in results:
        verdict = "met" if result["met"] else "NOT MET"
        lines.append(f"{verdict:7}  {result['bar']}: ratio {result['ratio']:.2f}")
    return "\n".join(lines)
