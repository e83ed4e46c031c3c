"""Start a server process, wait until it is ready, and stop it with everything it spawned."""
from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from scripts.bench.targets import Launch
from scripts.bench.workloads import REPO

READY_PATH = "/v2/health/ready"
STOP_GRACE_S = 15.0


class ServerError(RuntimeError):
    """A server exited early or never became ready."""


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def serving(launch: Launch, port: int, log_path: Path, ready_timeout_s: float,
            ready_path: str = READY_PATH) -> Iterator[str]:
    """Run a server (from the repository root) while the block runs; yields its base URL.

    Its output goes to ``log_path``; it gets its own process group, so its workers are
    stopped with it.
    """
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "wb") as log:
        process = subprocess.Popen(launch.argv, cwd=REPO, env={**os.environ, **launch.env}, stdout=log, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, start_new_session=True)
        try:
            base_url = f"http://127.0.0.1:{port}"
            _wait_ready(process, base_url + ready_path, ready_timeout_s, log_path)
            yield base_url
        finally:
            stop(process)


def _wait_ready(process: subprocess.Popen, url: str, timeout_s: float, log_path: Path) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ServerError(f"{' '.join(process.args)} exited with status {process.returncode} "
                              f"before it was ready; the end of {log_path}:\n{_tail(log_path)}")
        try:
            with urllib.request.urlopen(url, timeout=2) as answer:
                if answer.status == 200:
                    return
        except (OSError, http.client.HTTPException):
            pass
        time.sleep(0.2)
    raise ServerError(f"{url} did not answer 200 within {timeout_s:.0f} s (raise --ready-timeout "
                      f"if the model loads slowly); the end of {log_path}:\n{_tail(log_path)}")


def stop(process: subprocess.Popen) -> None:
    """SIGTERM the server, SIGKILL it after a grace period, then any worker it left behind."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    try:
        process.wait(STOP_GRACE_S)
    except subprocess.TimeoutExpired:
        pass
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait()


def _tail(path: Path, lines: int = 30) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
