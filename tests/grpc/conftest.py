"""A real ``kfunc run --grpc-port``: gRPC on the REST port (h2c, through ``GrpcApp``) and on the
second port (``start_grpc_server``)."""
from __future__ import annotations

import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import grpc
import pytest
import tritonclient.grpc

from tests.conftest import KFUNC, REPO, free_port, kill_groups

FUNCS = Path(__file__).resolve().parent / "funcs"


@dataclass
class GrpcServer:
    """One gunicorn process: ``rest`` is the REST port's host:port, ``grpc`` the --grpc-port one."""

    process: subprocess.Popen
    rest: str
    grpc: str
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def _listening(target: str) -> bool:
    with grpc.insecure_channel(target) as channel:
        try:
            grpc.channel_ready_future(channel).result(timeout=0.5)
        except grpc.FutureTimeoutError:
            return False
    return True


@pytest.fixture(scope="module")
def start_server(tmp_path_factory) -> Iterator:
    started: list[GrpcServer] = []

    def start(function_dir: Path, env: dict | None = None) -> GrpcServer:
        rest, grpc_port = free_port(), free_port()
        log_path = tmp_path_factory.mktemp("grpc") / "gunicorn.log"
        process = subprocess.Popen(
            [*KFUNC, "run", str(function_dir), "--host", "127.0.0.1", "--port", str(rest),
             "--grpc-port", str(grpc_port), "--workers", "1"],
            cwd=REPO, stdout=log_path.open("w"), stderr=subprocess.STDOUT, start_new_session=True,
            env={**{k: v for k, v in os.environ.items() if k != "KFUNC_MODELS_DIR"},  # a pod's own model ledger
                 "PYTHONUNBUFFERED": "1", **(env or {})})
        server = GrpcServer(process, f"127.0.0.1:{rest}", f"127.0.0.1:{grpc_port}", log_path)
        started.append(server)
        deadline = time.monotonic() + 60
        while not (_listening(server.rest) and _listening(server.grpc)):
            if process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"gunicorn did not start:\n{server.log()}")
            time.sleep(0.1)
        return server

    yield start
    kill_groups([server.process for server in started])


def wait_model_ready(target: str, model: str, timeout: float = 60.0) -> None:
    client = tritonclient.grpc.InferenceServerClient(target)
    deadline = time.monotonic() + timeout
    while not client.is_model_ready(model):
        assert time.monotonic() < deadline, f"{model} not ready at {target}"
        time.sleep(0.1)


@pytest.fixture(scope="module")
def echo(start_server, tmp_path_factory) -> GrpcServer:
    """The echo function; its request metrics go to ``echo.metrics_dir``."""
    metrics_dir = tmp_path_factory.mktemp("metrics")
    server = start_server(FUNCS / "echo", env={"KFUNC_METRICS_DIR": str(metrics_dir)})
    server.metrics_dir = metrics_dir
    wait_model_ready(server.rest, "echo")
    return server


@pytest.fixture(scope="module", params=["rest-port", "grpc-port"])
def target(request, echo) -> str:
    """The echo function's gRPC address: the REST port (GrpcApp) or the --grpc-port (grpc.aio)."""
    return echo.rest if request.param == "rest-port" else echo.grpc
