"""Timing one start: from spawning a process to its first successful inference."""
from __future__ import annotations

import http.client
import os
import subprocess
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from scripts.bench.servers import stop
from scripts.bench.workloads import REPO

POLL_S = 0.01


class StartFailed(RuntimeError):
    """The process exited, or did not answer, before its first inference."""


@dataclass(frozen=True)
class Start:
    """A command to start (from the repository root) and the environment variables it adds."""

    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)


def until_first_inference(start: Start, port: int, path: str, body: bytes, log_path: Path, timeout_s: float) -> float:
    """Seconds from spawn until ``POST 127.0.0.1:port/path`` answers 200; the process is stopped after."""
    with _spawned(start, log_path) as (process, spawned):
        while not _answers(port, path, body):
            _check_alive(process, log_path, spawned, timeout_s)
            time.sleep(POLL_S)
        return time.perf_counter() - spawned


def until_first_line(start: Start, log_path: Path, timeout_s: float) -> float:
    """Seconds from spawn until the process writes its first line to stdout (then it is stopped)."""
    with _spawned(start, log_path, stdout=subprocess.PIPE) as (process, spawned):
        if not process.stdout.readline():
            _check_alive(process, log_path, spawned, timeout_s)
        return time.perf_counter() - spawned


@contextmanager
def _spawned(start: Start, log_path: Path, stdout: int | None = None) -> Iterator[tuple[subprocess.Popen, float]]:
    """Start the process in its own session (so its workers stop with it); stop it after the block."""
    with open(log_path, "wb") as log:
        spawned = time.perf_counter()
        process = subprocess.Popen(start.argv, cwd=REPO, env={**os.environ, **start.env}, stdout=stdout or log,
                                   stderr=log, stdin=subprocess.DEVNULL, start_new_session=True)
        try:
            yield process, spawned
        finally:
            stop(process)


def _answers(port: int, path: str, body: bytes) -> bool:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        connection.request("POST", path, body, {"Content-Type": "application/json"})
        return connection.getresponse().status == 200
    except OSError:
        return False
    finally:
        connection.close()


def _check_alive(process: subprocess.Popen, log_path: Path, spawned: float, timeout_s: float) -> None:
    if process.poll() is not None:
        raise StartFailed(f"{' '.join(process.args)} exited with {process.returncode}; see {log_path}")
    if time.perf_counter() - spawned > timeout_s:
        raise StartFailed(f"{' '.join(process.args)} gave no inference within {timeout_s:.0f} s; see {log_path}")
