"""A local mesh: each version of a function served by ``kfunc run``, behind a real Envoy routing by VirtualService.

Each version runs as ``python -m scaffold.cli run DIR --port P`` (its own directory or the same
one with other environment variables) and stands for the Knative Service
``<function>-<version>.<namespace>.svc.cluster.local``. :meth:`LocalMesh.apply` takes the same
objects ``kfunc traffic`` would apply to the cluster and swaps Envoy's routes live.
"""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import urllib3

from functions.config import load_config
from functions.errors import KFuncError
from functions.registry.ledger import DIR_ENV as MODELS_DIR_ENV
from knative.mode_settings import port_protocol
from knative.settings import load_deploy_settings

from .envoy import translate
from .envoy_process import EnvoyProcess
from .hosts import service_host, version_service

_HTTP = urllib3.PoolManager(timeout=urllib3.Timeout(total=1.0), retries=False)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass(frozen=True)
class LocalVersion:
    """One version to serve: ``directory`` holds its func.py and kfunc.yaml; ``env`` is added to its
    environment; ``replicas`` servers run it, the endpoints of one upstream (its pods, in a cluster)."""

    version: str
    directory: Path
    env: dict[str, str] = field(default_factory=dict)
    replicas: int = 1


@dataclass
class _Server:
    version: LocalVersion
    port: int
    process: subprocess.Popen
    log_path: Path


class LocalMesh:
    def __init__(self, function: str, namespace: str, versions: list[LocalVersion], workdir: Path,
                 port: int | None = None) -> None:
        if not versions:
            raise KFuncError("the local mesh needs at least one version to serve")
        self.function = function
        self.namespace = namespace
        self.versions = versions
        self.workdir = Path(workdir)
        self.envoy = EnvoyProcess(self.workdir / "envoy", port or free_port(), free_port())
        self.servers: dict[str, list[_Server]] = {}

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.envoy.port}"

    @property
    def h2c_hosts(self) -> set[str]:
        """The hosts of the versions whose container port speaks h2c (``deploy.protocol``)."""
        return {service_host(version_service(self.function, v.version), self.namespace) for v in self.versions
                if port_protocol(load_deploy_settings(load_config(v.directory))) == "h2c"}

    @property
    def upstreams(self) -> dict[str, list[str]]:
        """Knative Service host -> the local addresses of its replicas, as the Envoy translation needs it."""
        return {service_host(version_service(self.function, name), self.namespace): [f"127.0.0.1:{s.port}" for s in servers]
                for name, servers in self.servers.items()}

    def replicas(self, version: str) -> list[str]:
        """The base URLs of one version's replicas (each reachable directly, beside Envoy)."""
        return [f"http://127.0.0.1:{server.port}" for server in self.servers[version]]

    def _all(self) -> list[_Server]:
        return [server for servers in self.servers.values() for server in servers]

    def start(self, objects: list[dict], timeout: float = 60.0) -> None:
        """Start every function server, wait until they are ready, then Envoy with ``objects``' routes."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        try:
            for version in self.versions:
                self.servers[version.version] = [self._start_server(version, i) for i in range(version.replicas)]
            for server in self._all():
                self._wait_ready(server, timeout)
            self.envoy.start(translate(objects, self.upstreams, self.h2c_hosts))
        except BaseException:
            self.stop()
            raise

    def apply(self, objects: list[dict]) -> None:
        """Route by these objects from now on; in-flight and kept-alive connections carry on."""
        self.envoy.load(translate(objects, self.upstreams, self.h2c_hosts))

    def stop(self) -> None:
        self.envoy.stop()
        for server in self._all():
            if server.process.poll() is None:
                server.process.terminate()
        for server in self._all():
            try:
                server.process.wait(15)
            except subprocess.TimeoutExpired:
                server.process.kill()
                server.process.wait()

    def __enter__(self) -> "LocalMesh":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _start_server(self, version: LocalVersion, replica: int) -> _Server:
        port = free_port()
        log_path = self.workdir / (f"{version.version}.log" if replica == 0 else f"{version.version}-{replica}.log")
        command = [sys.executable, "-m", "scaffold.cli", "run", str(version.directory), "--host", "127.0.0.1", "--port", str(port)]
        inherited = {k: v for k, v in os.environ.items() if k != MODELS_DIR_ENV}  # each replica is a pod: its own ledger
        process = subprocess.Popen(command, env={**inherited, "PYTHONUNBUFFERED": "1", **version.env},
                                   stdout=log_path.open("w"), stderr=subprocess.STDOUT)
        return _Server(version, port, process, log_path)

    def _wait_ready(self, server: _Server, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if server.process.poll() is not None:
                raise KFuncError(f"version {server.version.version} exited with {server.process.returncode}; "
                                 f"its log ({server.log_path}):\n{server.log_path.read_text(errors='replace')[-3000:]}")
            try:
                if _HTTP.request("GET", f"http://127.0.0.1:{server.port}/v2/health/ready").status == 200:
                    return
            except urllib3.exceptions.HTTPError:
                pass
            time.sleep(0.1)
        raise KFuncError(f"version {server.version.version} not ready after {timeout:g}s; see {server.log_path}")
