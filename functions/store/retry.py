"""Retrying a call with capped exponential backoff and jitter (e.g. a model fetch while the store is down)."""
from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from typing import TypeVar

from .errors import StoreUnavailable

log = logging.getLogger("kfunc.store")
T = TypeVar("T")


def backoff_delay(attempt: int, base_delay: float, max_delay: float) -> float:
    """Seconds to wait after failed attempt number ``attempt`` (1-based): half fixed, half random."""
    ceiling = min(max_delay, base_delay * 2 ** (attempt - 1))
    return ceiling / 2 + random.uniform(0, ceiling / 2)


def retry_with_backoff(
    call: Callable[[], T],
    *,
    attempts: int | None = 5,
    base_delay: float = 1.0,
    max_delay: float = 30.0,
    retry_on: tuple[type[BaseException], ...] = (StoreUnavailable,),
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """Return ``call()``, retrying on ``retry_on`` up to ``attempts`` times in all (None: until it succeeds).

    Other exceptions propagate at once; after the last attempt the last error propagates.
    ``sleep`` may be an ``Event.wait`` so that a shutdown interrupts the wait.
    """
    attempt = 1
    while True:
        try:
            return call()
        except retry_on as exc:
            if attempts is not None and attempt >= attempts:
                raise
            delay = backoff_delay(attempt, base_delay, max_delay)
            log.warning("attempt %d failed (%s); retrying in %.1f s", attempt, exc, delay)
            sleep(delay)
            attempt += 1
