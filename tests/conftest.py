"""Shared fixtures: real ``kfunc run`` servers on free loopback ports."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import pytest
import requests
import yaml

from knative.crd_schema import CrdSchemas
from scaffold.cli import main as kfunc_main

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"
KFUNC = [sys.executable, "-m", "scaffold.cli"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Server:
    """A running ``kfunc run`` process and its base URL."""

    process: subprocess.Popen
    url: str
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_ready(self, timeout: float = 60.0, path: str = "/v2/health/ready") -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"server exited with {self.process.returncode}:\n{self.log()}")
            try:
                if requests.get(self.url + path, timeout=1).status_code == 200:
                    return
            except requests.ConnectionError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"server not ready after {timeout}s:\n{self.log()}")

    def wait_listening(self, timeout: float = 60.0) -> None:
        self.wait_ready(timeout, path="/v2/health/live")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30.0) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
        return self.process.wait(timeout)


def _servers(tmp_path_factory) -> Iterator:
    started: list[Server] = []

    def start(function_dir: str | Path, *args: str, env: dict | None = None, ready: bool = True,
              port: int | None = None) -> Server:
        """``env`` values of None unset those variables; with ``port`` given, no --host/--port is
        passed: the caller makes the server listen on 127.0.0.1:``port`` by other means (env)."""
        bind: list[str] = []
        if port is None:
            port = free_port()
            bind = ["--host", "127.0.0.1", "--port", str(port)]
        log_path = tmp_path_factory.mktemp("server") / "server.log"
        # each server is a pod of its own: its own model ledger, even if this process made one
        environment = {**os.environ, "PYTHONUNBUFFERED": "1", "KFUNC_MODELS_DIR": None, **(env or {})}
        process = subprocess.Popen(
            [*KFUNC, "run", str(function_dir), *bind, *args],
            cwd=REPO, env={k: v for k, v in environment.items() if v is not None},
            stdout=log_path.open("w"), stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, so teardown also ends hung workers
        )
        server = Server(process, f"http://127.0.0.1:{port}", log_path)
        started.append(server)
        (server.wait_ready if ready else server.wait_listening)()
        return server

    yield start
    kill_groups([server.process for server in started])


def kill_groups(processes: list[subprocess.Popen]) -> None:
    """SIGKILL each process's group (started with ``start_new_session``) and reap it."""
    for process in processes:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        process.wait()


@pytest.fixture
def serve(tmp_path_factory) -> Iterator:
    """``serve(function_dir, *args, env={...}, ready=True, port=None)`` starts ``kfunc run`` and waits for it."""
    yield from _servers(tmp_path_factory)


@pytest.fixture(scope="module")
def serve_module(tmp_path_factory) -> Iterator:
    """Like ``serve``, for servers a whole test module shares."""
    yield from _servers(tmp_path_factory)


def kserve_client(call: str, **arguments) -> dict:
    """The answer of ``tests.kserve_clients.<call>(**arguments)``, run in its own process (kserve
    cannot share one with tritonclient.grpc)."""
    done = subprocess.run([sys.executable, "-m", "tests.kserve_clients", call, json.dumps(arguments)],
                          cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def function_dir(name: str) -> Path:
    """A test function directory under tests/runtime/funcs/."""
    return REPO / "tests" / "runtime" / "funcs" / name


@pytest.fixture(scope="session")
def crds_dir() -> Path:
    """The upstream CRDs in ../shared/crds (test data only, never copied into the project)."""
    crds = SHARED / "crds"
    if not crds.is_dir():
        pytest.skip(f"{crds} is missing: the CRD checks need the shared Knative and Istio CRDs")
    return crds


@pytest.fixture(scope="session")
def schemas(crds_dir: Path) -> CrdSchemas:
    return CrdSchemas.from_directory(crds_dir)


@pytest.fixture(scope="session")
def crd_documents(crds_dir: Path) -> list[dict]:
    """Every CRD object in the shared files, as a cluster would list them."""
    documents = [d for f in sorted(crds_dir.glob("*.yaml")) for d in yaml.safe_load_all(f.read_text())]
    return [d for d in documents if isinstance(d, dict) and d.get("kind") == "CustomResourceDefinition"]


@pytest.fixture
def kfunc(capsys):
    """Run ``kfunc ARGS...`` through the real CLI entry point; returns (exit status, stdout, stderr)."""

    def run(*argv: str | Path) -> tuple[int, str, str]:
        status = kfunc_main([str(a) for a in argv])
        out, err = capsys.readouterr()
        return status, out, err

    return run


def write_kubeconfig(directory: Path, server_url: str) -> str:
    """A kubeconfig whose current context talks to ``server_url`` (namespace ``ml``) with a token."""
    path = directory / "kubeconfig"
    path.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "fake",
        "clusters": [{"name": "fake", "cluster": {"server": server_url}}],
        "users": [{"name": "dev", "user": {"token": "not-a-secret"}}],
        "contexts": [{"name": "fake", "context": {"cluster": "fake", "user": "dev", "namespace": "ml"}}],
    }))
    return str(path)


def scrape(url: str) -> "Metrics":
    """``GET url/metrics``, parsed by prometheus_client's own parser."""
    from prometheus_client.parser import text_string_to_metric_families

    answer = requests_get(url + "/metrics")
    assert answer.headers["Content-Type"].startswith("text/plain; version=")
    return Metrics([sample for family in text_string_to_metric_families(answer.text) for sample in family.samples])


class Metrics:
    """Samples of one scrape; ``value(name, **labels)`` sums the samples that carry those labels."""

    def __init__(self, samples: list) -> None:
        self.samples = samples

    def value(self, name: str, **labels: str) -> float:
        return sum(s.value for s in self.samples
                   if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()))


def requests_get(url: str):
    import requests

    return requests.get(url, timeout=10)
