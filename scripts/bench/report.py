"""Medians of repeated runs, ratios against a baseline server, and the printed table."""
from __future__ import annotations

import statistics
from dataclasses import asdict, dataclass
from typing import Any

from scripts.bench.breakdown import PHASES, Breakdown
from scripts.bench.wrk import WrkRun

COLUMNS = (("requests_per_s", "req/s", "{:.1f}"), ("p50_ms", "p50 ms", "{:.2f}"), ("p99_ms", "p99 ms", "{:.2f}"))


@dataclass(frozen=True)
class Cell:
    """The repeated runs of one target, protocol and concurrency (on one workload), and where the
    server's time went during them when it tells (kfunc's ``/metrics``)."""

    target: str
    protocol: str
    concurrency: int
    runs: tuple[WrkRun, ...]
    workload: str = "mlp"
    breakdown: Breakdown | None = None

    def median(self, metric: str) -> float:
        """The median over the repeats of one figure (each figure's median is taken on its own)."""
        return statistics.median(getattr(run, metric) for run in self.runs)

    @property
    def errors(self) -> int:
        return sum(run.errors for run in self.runs)

    def as_dict(self) -> dict[str, Any]:
        return {"workload": self.workload, "target": self.target, "protocol": self.protocol,
                "concurrency": self.concurrency, **{metric: self.median(metric) for metric, _, _ in COLUMNS},
                "errors": self.errors, "runs": [asdict(run) for run in self.runs],
                "breakdown": self.breakdown.as_dict() if self.breakdown else None}


def ratios(cells: list[Cell], baseline: str) -> list[dict[str, Any]]:
    """Each other target's median figures divided by the baseline's, per protocol and concurrency.

    Above 1 is better for ``requests_per_s``; below 1 is better for the latencies.
    """
    by_key = {(c.workload, c.target, c.protocol, c.concurrency): c for c in cells}
    found = []
    for cell in cells:
        base = by_key.get((cell.workload, baseline, cell.protocol, cell.concurrency))
        if cell.target == baseline or base is None:
            continue
        found.append({"workload": cell.workload, "target": cell.target, "baseline": baseline, "protocol": cell.protocol,
                      "concurrency": cell.concurrency,
                      **{metric: _ratio(cell, base, metric) for metric, _, _ in COLUMNS}})
    return found


def _ratio(cell: Cell, base: Cell, metric: str) -> float:
    return cell.median(metric) / base.median(metric)


def table(cells: list[Cell], targets: list[str], baseline: str) -> str:
    """One row per protocol and concurrency: each target's medians, then the req/s ratios."""
    compared = [t for t in targets if t != baseline] if baseline in targets else []
    header = ["protocol", "conc"] + [f"{t} {label}" for t in targets for _, label, _ in COLUMNS]
    header += [f"{t}/{baseline}" for t in compared]
    by_key = {(c.target, c.protocol, c.concurrency): c for c in cells}
    rows = [header]
    for protocol, concurrency in dict.fromkeys((c.protocol, c.concurrency) for c in cells):
        row = [protocol, str(concurrency)]
        for target in targets:
            cell = by_key.get((target, protocol, concurrency))
            row += [fmt.format(cell.median(metric)) if cell else "-" for metric, _, fmt in COLUMNS]
        base = by_key.get((baseline, protocol, concurrency))
        for target in compared:
            cell = by_key.get((target, protocol, concurrency))
            row.append(f"{_ratio(cell, base, 'requests_per_s'):.2f}x" if cell and base else "-")
        rows.append(row)
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = ["  ".join(text.ljust(w) if i == 0 else text.rjust(w) for i, (text, w) in enumerate(zip(row, widths)))
             for row in rows]
    failed = [f"! {c.target} {c.protocol} c={c.concurrency}: {c.errors} failed requests "
              "(socket errors, timeouts or non-2xx answers)" for c in cells if c.errors]
    return "\n".join(lines + failed)


def breakdown_table(cells: list[Cell]) -> str:
    """Mean microseconds per request in each phase, from the server's own metrics, per cell."""
    header = ["workload", "protocol", "conc", *PHASES, "other", "server", "client p50", "batch"]
    rows = [header]
    for cell in cells:
        if cell.breakdown is None:
            continue
        b = cell.breakdown
        rows.append([cell.workload, cell.protocol, str(cell.concurrency),
                     *(f"{b.phases_us[phase]:.0f}" for phase in PHASES), f"{b.other_us:.0f}",
                     f"{b.server_us:.0f}", f"{1000 * cell.median('p50_ms'):.0f}", f"{b.batch_size:.1f}"])
    if len(rows) == 1:
        return ""
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    return "\n".join("  ".join(text.ljust(w) if i < 2 else text.rjust(w) for i, (text, w) in enumerate(zip(row, widths)))
                     for row in rows)
