"""The servers compared, each as the command (and environment) that serves a workload on a port."""
from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from scripts.bench.workloads import Workload

KSERVE_LOG_CONFIG = Path(__file__).with_name("kserve_logging.json")


@dataclass(frozen=True)
class ServerSettings:
    """What every target is given alike."""

    workers: int
    torch_threads: int = 1  # intra-op threads per worker process
    threads: int | None = None  # kfunc's gunicorn threads per worker; None: kfunc.yaml decides


@dataclass(frozen=True)
class Launch:
    """A server's command line and the environment variables it adds."""

    argv: list[str]
    env: dict[str, str]


@dataclass(frozen=True)
class Target:
    """A server to benchmark: a name and how to launch it serving a workload.

    ``serves_model`` False marks a reference that answers without the model (its outputs are
    not checked); ``workloads`` limits it to those (empty: all); ``metrics`` says it exposes
    kfunc's ``/metrics``, read for the overhead breakdown.
    """

    name: str
    description: str
    launch: Callable[[Workload, int, ServerSettings], Launch]
    serves_model: bool = True
    workloads: tuple[str, ...] = ()
    metrics: bool = False

    def measures(self, workload: str) -> bool:
        return not self.workloads or workload in self.workloads


def kfunc_launch(workload: Workload, port: int, settings: ServerSettings) -> Launch:
    """``kfunc run`` (this checkout's, run as a module from the repository root) on the
    workload's function directory; torch threads via ``KFUNC_TORCH_THREADS``."""
    argv = [sys.executable, "-m", "scaffold.cli", "run", str(workload.function_dir),
            "--port", str(port), "--workers", str(settings.workers)]
    if settings.threads is not None:
        argv += ["--threads", str(settings.threads)]
    return Launch(argv, {"KFUNC_TORCH_THREADS": str(settings.torch_threads)})


def kserve_launch(workload: Workload, port: int, settings: ServerSettings) -> Launch:
    """KServe's ModelServer (uvicorn) with the workload's model: REST only, no access or latency logs.

    The model module reads its torch thread count from ``OMP_NUM_THREADS``.
    """
    argv = [sys.executable, "-m", workload.kserve_module,
            "--model_name", workload.model_name,
            "--http_port", str(port),
            "--workers", str(settings.workers),
            "--enable_grpc", "false",
            "--enable_latency_logging", "false",
            "--log_config_file", str(KSERVE_LOG_CONFIG)]
    return Launch(argv, {"OMP_NUM_THREADS": str(settings.torch_threads)})


def flask_launch(workload: Workload, port: int, settings: ServerSettings) -> Launch:
    """The bare flask hello app on gunicorn with sync workers: the per-request floor of flask."""
    argv = [sys.executable, "-m", "gunicorn", "--workers", str(settings.workers), "--worker-class", "sync",
            "--bind", f"127.0.0.1:{port}", "--log-level", "warning", "scripts.bench.flask_hello:app"]
    return Launch(argv, {})


def bare_asgi_launch(workload: Workload, port: int, settings: ServerSettings) -> Launch:
    """The bare ASGI MLP app on gunicorn's asgi worker with the C parser: the floor of kfunc's server."""
    argv = [sys.executable, "-m", "gunicorn", "--workers", str(settings.workers), "--worker-class", "asgi",
            "--http-parser", "fast", "--bind", f"127.0.0.1:{port}", "--log-level", "warning",
            "scripts.bench.bare_asgi_mlp:app"]
    return Launch(argv, {"OMP_NUM_THREADS": str(settings.torch_threads)})


TARGETS: dict[str, Target] = {
    "kfunc": Target("kfunc", "kfunc run (gunicorn's asgi worker, one route table)", kfunc_launch, metrics=True),
    "asgi": Target("asgi", "bare ASGI MLP app on the same gunicorn asgi worker and C parser (no framework)",
                   bare_asgi_launch, workloads=("mlp",)),
    "kserve": Target("kserve", "KServe ModelServer (fastapi + uvicorn), package kserve", kserve_launch),
    "flask": Target("flask", "bare flask hello app on gunicorn sync workers (no model)", flask_launch,
                    serves_model=False, workloads=("mlp",)),
}
