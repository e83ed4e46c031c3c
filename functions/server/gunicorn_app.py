"""Run a function on gunicorn: load the model once in the master, fork workers that share it.

Fork safety: torch's OpenMP pool must not exist in the master when workers fork (a forward
pass with several intra-op threads there hangs the children), so the master runs the user's
load hook with one torch thread (``OMP_NUM_THREADS=1`` too, for a torch that the hook imports
itself), and each worker sets its own thread count after fork, then runs the warm-up inference
(``Function.finish_start``) before it accepts requests.

CUDA does not survive fork either: a model bound for the GPU (``functions.device.expects_cuda``)
is loaded by each worker after fork instead, with its own CUDA context.

Processes and threads: ``functions.concurrency.plan`` (one process per core, or per GPU, each
GPU worker on its own device). Each worker listens on its own ``SO_REUSEPORT`` socket, so the
kernel spreads new connections over the workers evenly instead of the first one to wake up
taking them all (a keep-alive connection stays with the worker that accepted it).

Metrics: the master gives its workers a fresh ``KFUNC_METRICS_DIR`` (see ``functions.metrics``).

Workers are ``functions.server.worker.KFuncWorker``: gunicorn's asyncio ``asgi`` worker (uvloop,
the C HTTP/1.1 parser ``gunicorn-h1c``, HTTP/2 over cleartext by prior knowledge or
``Upgrade: h2c`` on the same port) serving ``functions.server.asgi.KFuncApp``; blocking handler
code runs on a pool of the plan's threads (``functions.server.blocking``).

Garbage collection: ``kfunc run`` starts with the cyclic GC paused (``scaffold.cli``). After the
load the master freezes every object it made (``gc.freeze``: the permanent generation, never
scanned), so the workers' collections neither repeat that work nor write to, and so copy, the
pages they share with the master; then master and workers collect again, as Python's ``gc``
documentation prescribes for a server that forks. The cyclic garbage of the start itself (a few
thousand objects) stays frozen with the rest.

Drain: on SIGTERM each worker stops listening at once, so new connections are refused while
the requests in flight finish; then its payload log is flushed (``functions.payload_log``)
within what is left of the same budget.

gunicorn API this module and the worker rely on (pinned to the 27 series; each has a contract
test in tests/runtime/test_gunicorn_contract.py): ``BaseApplication`` (``load_config``, ``load``,
``cfg.set``), the settings named in ``load_config``, the server hooks, ``gunicorn.workers.gasgi.
ASGIWorker`` and ``gunicorn.asgi.protocol.ASGIProtocol``.
"""
from __future__ import annotations

import gc
import logging
import os
import shutil
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator

from gunicorn.app.base import BaseApplication

from .. import metrics, otel_metrics, payload_log, sdk, telemetry
from ..concurrency import Plan, available_cpus, plan
from ..device import expects_cuda
from ..function import Function
from ..store import retry_with_backoff
from . import blocking
from .asgi import KFuncApp
from .user_routes import user_app
from .worker import KFuncWorker

log = logging.getLogger("kfunc")
EXIT_MARGIN_S = 1.0


@dataclass(frozen=True)
class ServeOptions:
    """How ``kfunc run`` serves: address, processes and threads (None: the plan's), logging."""

    host: str = "0.0.0.0"
    port: int = 8080
    workers: int | None = None
    threads: int | None = None
    access_log: bool = False
    grpc_port: int | None = None  # a second, gRPC-only port (grpc.aio), as KServe's 8081


class FunctionServer(BaseApplication):
    """gunicorn application whose ASGI app serves the function, preloaded in the master."""

    def __init__(self, function: Function, options: ServeOptions) -> None:
        self.function = function
        self.options = options
        payload_log.check(function.logger_settings)
        cpus = available_cpus()
        self.gpus = _gpu_count()
        self.plan: Plan = plan(function.config.runtime, cpus=cpus, gpus=self.gpus, batch=function.batching,
                               workers=options.workers, threads=options.threads)
        self._free_gpus = list(range(self.gpus))
        self._own_metrics_dir: str | None = None
        self._gc_paused = not gc.isenabled()
        log.info("serving %s with %d worker(s) x %d thread(s), %d torch thread(s) each (%d core(s), %d GPU(s)%s)",
                 function.name, self.plan.workers, self.plan.threads, self.plan.torch_threads, cpus, self.gpus,
                 f", batches of up to {function.batching.max_batch_size}" if function.batching else "")
        super().__init__()

    def load_config(self) -> None:
        runtime = self.function.config.runtime
        settings = {
            "bind": f"{self.options.host}:{self.options.port}",
            "workers": self.plan.workers,
            "worker_class": KFuncWorker,
            "asgi_lifespan": "off",
            "http_parser": "fast",  # gunicorn-h1c
            "http_protocols": "h2,h1",
            "http2_cleartext": "both",  # prior knowledge (gRPC, Knative's h2c port) and Upgrade: h2c
            "reuse_port": True,  # gunicorn then gives each worker its own listening socket
            "preload_app": True,
            "timeout": runtime.timeout,
            "graceful_timeout": runtime.timeout,
            "keepalive": 75,
            "accesslog": "-" if self.options.access_log else None,
            "errorlog": "-",
            "loglevel": "info",
            "proc_name": f"kfunc-{self.function.name}",
            "on_starting": self._on_starting,
            "when_ready": self._when_ready,
            "on_exit": self._on_exit,
            "pre_fork": self._pre_fork,
            "post_fork": self._post_fork,
            "post_worker_init": self._post_worker_init,
            "worker_exit": self._worker_exit,
            "child_exit": self._child_exit,
            "control_socket_disable": True,  # gunicorn >= 24: one shared socket path per user
        }
        for key, value in settings.items():
            if key in self.cfg.settings:
                self.cfg.set(key, value)

    def load(self):
        """Runs once in the master (preload): load the model (unless it goes on CUDA), then build the app."""
        if expects_cuda():
            log.info("the model goes on CUDA, which does not survive fork: each worker loads it after fork")
        else:
            with _single_threaded_openmp():
                _limit_torch_threads(1)
                try:
                    self.function.load()
                except Exception as exc:
                    log.error("model load failed: %s; workers serve 503 and retry", exc, exc_info=True)
        app = KFuncApp(self.function, user_app=user_app(self.function, self.plan.threads))
        gc.freeze()
        return app

    def _on_starting(self, server) -> None:
        if not os.environ.get(metrics.DIR_ENV):
            self._own_metrics_dir = tempfile.mkdtemp(prefix="kfunc-metrics-")
            os.environ[metrics.DIR_ENV] = self._own_metrics_dir

    def _when_ready(self, server) -> None:
        self._resume_gc()
        log.info("Listening at: http://%s:%d (%d), a socket per worker (SO_REUSEPORT)",
                 self.options.host, self.options.port, os.getpid())

    def _on_exit(self, server) -> None:
        if self._own_metrics_dir:
            shutil.rmtree(self._own_metrics_dir, ignore_errors=True)

    def _pre_fork(self, server, worker) -> None:
        """In the master: give the worker about to be forked a GPU no live worker holds."""
        if self._free_gpus:
            worker.kfunc_gpu = self._free_gpus.pop(0)

    def _child_exit(self, server, worker) -> None:
        gpu = getattr(worker, "kfunc_gpu", None)
        if gpu is not None:
            self._free_gpus.insert(0, gpu)

    def _post_fork(self, server, worker) -> None:
        gpu = getattr(worker, "kfunc_gpu", None)
        if gpu is not None:  # CUDA is not initialised yet: the worker sees only its own GPU, as cuda:0
            visible = os.environ.get("CUDA_VISIBLE_DEVICES", "").split(",") if os.environ.get("CUDA_VISIBLE_DEVICES") else None
            os.environ["CUDA_VISIBLE_DEVICES"] = visible[gpu] if visible else str(gpu)
            log.info("worker %d uses GPU %s", os.getpid(), os.environ["CUDA_VISIBLE_DEVICES"])
        self._resume_gc()
        _limit_torch_threads(self.plan.torch_threads)
        telemetry.configure_tracing(self.function.name)
        otel_metrics.configure_metrics(self.function.name)
        if self.function.ready:
            self.function.finish_start()
        else:
            threading.Thread(target=retry_load, args=(self.function,), name="kfunc-load", daemon=True).start()

    def _post_worker_init(self, worker) -> None:
        """In the worker, its event loop made: the handler pool, and the loop async handlers run on."""
        blocking.configure(self.plan.threads)
        sdk.use_event_loop(worker.loop)
        function = self.function
        payload_log.start(function.name, function.logger_settings, function.store_settings, function.config.runtime.timeout)
        if self.options.grpc_port:
            worker.loop.create_task(self._serve_grpc(worker))

    def _worker_exit(self, server, worker) -> None:
        """In the worker, its requests drained: flush the payload log within what is left of the
        drain budget (``graceful_timeout`` from SIGTERM, less a second for the exit itself)."""
        started = getattr(worker, "kfunc_exit_at", None) or time.monotonic()
        payload_log.stop(started + self.cfg.graceful_timeout - EXIT_MARGIN_S)

    async def _serve_grpc(self, worker) -> None:
        """The ``--grpc-port`` server of this worker (each worker its own, SO_REUSEPORT), until it exits."""
        from .grpc_aio import start_grpc_server  # grpcio's server, only when a gRPC port is asked for

        server = await start_grpc_server(self.function, self.options.grpc_port, self.options.host)
        log.info("gRPC (Open Inference Protocol) on %s:%d in worker %d", self.options.host, self.options.grpc_port,
                 os.getpid())
        try:
            await server.wait_for_termination()
        finally:
            await server.stop(self.function.config.runtime.timeout)

    def _resume_gc(self) -> None:
        if self._gc_paused:
            gc.enable()


def _gpu_count() -> int:
    """GPUs a model bound for CUDA can use (counted without initialising CUDA), else 0."""
    if not expects_cuda():
        return 0
    import torch
    return torch.cuda.device_count()


@contextmanager
def _single_threaded_openmp() -> Iterator[None]:
    """``OMP_NUM_THREADS=1`` for the block, so a torch first imported inside it starts with one thread."""
    previous = os.environ.get("OMP_NUM_THREADS")
    os.environ["OMP_NUM_THREADS"] = "1"
    try:
        yield
    finally:
        if previous is None:
            del os.environ["OMP_NUM_THREADS"]
        else:
            os.environ["OMP_NUM_THREADS"] = previous


def _limit_torch_threads(count: int) -> None:
    torch = sys.modules.get("torch")  # only if func.py uses torch; the runtime never imports it
    if torch is not None:
        torch.set_num_threads(count)


def retry_load(function: Function) -> None:
    """Retry a failed load with capped exponential backoff until it succeeds (readiness stays
    false meanwhile), then warm up."""
    retry_with_backoff(function.load, attempts=None, retry_on=(Exception,))
    function.finish_start()


def serve(function: Function, options: ServeOptions) -> None:
    """Serve until SIGTERM/SIGINT; SIGTERM drains in-flight requests before exiting."""
    FunctionServer(function, options).run()
