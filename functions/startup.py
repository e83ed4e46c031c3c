"""Cold-start timeline: when each start-up milestone was reached, in ms since the process started.

"Process start" is the kernel's start time of this process (``/proc/self/stat``), so the time
the interpreter itself takes to come up is counted too. Worker processes forked by gunicorn
inherit the master's anchor: their milestones are measured from the master's start, which is
when the pod's container started. Where ``/proc`` is missing, this module's import stands in.
"""
from __future__ import annotations

import os
import time

# Milestones in the order a start reaches them, with the words the log line uses.
MILESTONES = {
    "interpreter": "interpreter",
    "kfunc_import": "kfunc import",
    "func_import": "func.py import",
    "fetch": "fetch",
    "load": "load",
    "warmup": "warm-up",
    "ready": "ready",
}
PARAMETER = "startup_ms"


def _process_age_s() -> float:
    """Seconds since the kernel started this process (0.0 without a Linux ``/proc``)."""
    try:
        with open("/proc/self/stat", "rb") as handle:
            stat = handle.read()
        with open("/proc/uptime", "rb") as handle:
            uptime_s = float(handle.read().split()[0])
    except OSError:
        return 0.0
    # Field 22 (starttime, in clock ticks since boot) counted after the ")" that ends the command name.
    start_ticks = int(stat[stat.rindex(b")") + 2:].split()[19])
    return max(0.0, uptime_s - start_ticks / os.sysconf("SC_CLK_TCK"))


PROCESS_STARTED = time.monotonic() - _process_age_s()
INTERPRETER_UP = time.monotonic()  # this module is imported first by the functions package


def ms_since_start(moment: float | None = None) -> float:
    """Milliseconds from process start to ``moment`` (a ``time.monotonic()`` value; default now)."""
    return round(((time.monotonic() if moment is None else moment) - PROCESS_STARTED) * 1000, 1)


class StartupTimeline:
    """The milestones one start has reached so far; the interpreter's is known from the outset."""

    def __init__(self) -> None:
        self.milestones: dict[str, float] = {"interpreter": ms_since_start(INTERPRETER_UP)}

    def mark(self, milestone: str) -> None:
        """Record that ``milestone`` (a key of MILESTONES) is reached now; a repeat keeps the first time."""
        if milestone not in MILESTONES:
            raise ValueError(f"unknown start-up milestone {milestone!r}; use one of {', '.join(MILESTONES)}")
        self.milestones.setdefault(milestone, ms_since_start())

    def parameters(self) -> dict[str, float]:
        """OIP metadata parameters (flat: the protocol allows only strings, numbers and booleans):
        ``startup_ms`` (process start to ready) and ``startup_ms.<milestone>`` for each one reached."""
        reached = {f"{PARAMETER}.{name}": self.milestones[name] for name in MILESTONES if name in self.milestones}
        if "ready" in self.milestones:
            reached = {PARAMETER: self.milestones["ready"], **reached}
        return reached

    def summary(self) -> str:
        """``interpreter 31, kfunc import 212, ...`` in milestone order."""
        return ", ".join(f"{words} {self.milestones[name]:.0f}" for name, words in MILESTONES.items()
                         if name in self.milestones)
