"""Where kfunc's time goes per request, from its own ``/metrics`` read before and after a cell."""
from __future__ import annotations

import re
import urllib.request
from dataclasses import dataclass

PHASES = ("parse", "queue", "model", "transform", "encode")
_SAMPLE = re.compile(r'^(kfunc_[a-z_]+)(?:\{([^}]*)\})? (\S+)$')


def scrape(base_url: str) -> dict[str, float]:
    """The sums and counts of kfunc's metrics, summed over their labels but ``phase``."""
    with urllib.request.urlopen(base_url + "/metrics", timeout=10) as answer:
        text = answer.read().decode()
    values: dict[str, float] = {}
    for line in text.splitlines():
        match = _SAMPLE.match(line)
        if not match or not match.group(1).endswith(("_sum", "_count")):
            continue
        name, labels, value = match.groups()
        phase = re.search(r'phase="([a-z]+)"', labels or "")
        key = f"{name}:{phase.group(1)}" if phase else name
        values[key] = values.get(key, 0.0) + float(value)
    return values


@dataclass(frozen=True)
class Breakdown:
    """Mean microseconds a request spent per phase in the server, its server-side total, and the
    mean number of requests per predictor call."""

    phases_us: dict[str, float]
    server_us: float
    batch_size: float

    @classmethod
    def between(cls, before: dict[str, float], after: dict[str, float]) -> "Breakdown | None":
        def delta(key: str) -> float:
            return after.get(key, 0.0) - before.get(key, 0.0)

        requests = delta("kfunc_request_duration_seconds_count")
        if requests <= 0:
            return None
        phases = {phase: 1e6 * delta(f"kfunc_request_phase_seconds_sum:{phase}")
                  / max(1.0, delta(f"kfunc_request_phase_seconds_count:{phase}")) for phase in PHASES}
        calls = delta("kfunc_batch_size_count")
        return cls(phases, 1e6 * delta("kfunc_request_duration_seconds_sum") / requests,
                   delta("kfunc_batch_size_sum") / calls if calls else 1.0)

    @property
    def other_us(self) -> float:
        """Server time outside the phases: routing, headers, metrics, waiting for the GIL."""
        return self.server_us - sum(self.phases_us.values())

    def as_dict(self) -> dict:
        return {"phases_us": self.phases_us, "server_us": self.server_us, "other_us": self.other_us,
                "batch_size": self.batch_size}
