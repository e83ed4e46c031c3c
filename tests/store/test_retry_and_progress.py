"""retry_with_backoff and download progress reporting."""
from __future__ import annotations

import logging
import os

import pytest

from functions.errors import ConfigError
from functions.store import StoreUnavailable, retry_with_backoff
from functions.store.progress import Progress


def flaky(failures: int, error: Exception):
    calls = []

    def call():
        calls.append(1)
        if len(calls) <= failures:
            raise error
        return "model"
    return call, calls


def test_retries_until_success_with_growing_capped_delays():
    call, calls = flaky(5, StoreUnavailable("down"))
    sleeps: list[float] = []
    assert retry_with_backoff(call, attempts=None, base_delay=1.0, max_delay=4.0, sleep=sleeps.append) == "model"
    assert len(calls) == 6
    bounds = [(0.5, 1.0), (1.0, 2.0), (2.0, 4.0), (2.0, 4.0), (2.0, 4.0)]
    assert all(low <= delay <= high for delay, (low, high) in zip(sleeps, bounds, strict=True))


def test_gives_up_after_the_last_attempt_with_the_last_error():
    call, calls = flaky(10, StoreUnavailable("still down"))
    with pytest.raises(StoreUnavailable, match="still down"):
        retry_with_backoff(call, attempts=3, base_delay=0.01, sleep=lambda _: None)
    assert len(calls) == 3


def test_other_errors_are_not_retried():
    call, calls = flaky(1, ConfigError("bad uri"))
    with pytest.raises(ConfigError):
        retry_with_backoff(call, attempts=5, sleep=lambda _: None)
    assert len(calls) == 1


def test_progress_draws_a_bar_on_a_terminal():
    reader, writer = os.openpty()
    with os.fdopen(writer, "w") as terminal:
        progress = Progress("s3://b/m/", total=2 * 2**20, stream=terminal)
        progress.update(2**20)
        progress.update(2**20)
        progress.finish()
    shown = os.read(reader, 4096).decode()
    os.close(reader)
    assert "s3://b/m/ [" in shown and "100.0%" in shown and "2.0 MiB/2.0 MiB" in shown


def test_progress_logs_when_not_a_terminal(tmp_path, caplog):
    with open(tmp_path / "out", "w") as not_terminal, caplog.at_level(logging.INFO, logger="kfunc.store"):
        progress = Progress("s3://b/m/", total=3 * 2**20, stream=not_terminal)
        progress.update(3 * 2**20)
        progress.finish()
    assert (tmp_path / "out").read_text() == ""
    assert "s3://b/m/: 3.0 MiB in" in caplog.text
