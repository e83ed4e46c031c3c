"""Download progress: a one-line bar on a terminal, periodic log lines otherwise. Thread-safe."""
from __future__ import annotations

import logging
import sys
import threading
import time
from typing import TextIO

log = logging.getLogger("kfunc.store")

LOG_EVERY_S = 5.0
DRAW_EVERY_S = 0.1
_BAR_WIDTH = 30


def _mib(n: int) -> str:
    return f"{n / 2**20:.1f} MiB"


class Progress:
    """Counts bytes of one model download and reports them to ``stream`` (a TTY) or to the log."""

    def __init__(self, label: str, total: int, stream: TextIO | None = None) -> None:
        self.label = label
        self.total = total
        self.done = 0
        self._stream = stream if stream is not None else sys.stderr
        self._tty = self._stream.isatty()
        self._lock = threading.Lock()
        self._started = time.monotonic()
        self._last_report = self._started
        self._interval = DRAW_EVERY_S if self._tty else LOG_EVERY_S

    def update(self, n: int) -> None:
        """Add ``n`` downloaded bytes; report if due."""
        with self._lock:
            self.done += n
            now = time.monotonic()
            if now - self._last_report < self._interval:
                return
            self._last_report = now
            if self._tty:
                self._draw()
            else:
                log.info("%s: %s of %s (%.0f%%)", self.label, _mib(self.done), _mib(self.total), self._percent())

    def finish(self) -> None:
        """Report the total and the throughput once."""
        elapsed = max(time.monotonic() - self._started, 1e-6)
        if self._tty:
            self._draw()
            self._stream.write("\n")
            self._stream.flush()
        log.info("%s: %s in %.1f s (%.1f MiB/s)", self.label, _mib(self.done), elapsed, self.done / 2**20 / elapsed)

    def _percent(self) -> float:
        return 100.0 * self.done / self.total if self.total else 100.0

    def _draw(self) -> None:
        filled = int(_BAR_WIDTH * self._percent() / 100)
        bar = "#" * filled + "-" * (_BAR_WIDTH - filled)
        self._stream.write(f"\r{self.label} [{bar}] {self._percent():5.1f}% {_mib(self.done)}/{_mib(self.total)}")
        self._stream.flush()
