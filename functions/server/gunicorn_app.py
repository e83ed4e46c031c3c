"""Run a function on gunicorn: load the model once in the master, fork workers that share it.

Fork safety: torch's OpenMP pool must not exist in the master when workers fork (a forward
pass with several intra-op threads there hangs the children), so the master runs the user's
load hook with one torch thread (``OMP_NUM_THREADS=1`` too, for a torch that the hook imports
itself), and each worker sets its own thread count after fork, then runs the warm-up inference
(``Function.finish_start``) before it accepts requests.

CUDA does not survive fork either: a model bound for the GPU (``functions.device.expects_cuda``)
is loaded by each worker after fork instead, with its own CUDA context.

Drain: on SIGTERM each worker stops listening at once, so new connections are refused while
the requests in flight finish.
"""
from __future__ import annotations

import logging
import os
import sys
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator

from gunicorn.app.base import BaseApplication
from gunicorn.workers.gthread import ThreadWorker

from .. import telemetry
from ..device import expects_cuda
from ..function import Function
from ..store import retry_with_backoff
from .app import create_app

log = logging.getLogger("kfunc")


@dataclass(frozen=True)
class ServeOptions:
    """How ``kfunc run`` serves: address, processes and threads, logging."""

    host: str = "0.0.0.0"
    port: int = 8080
    workers: int = 1
    threads: int = 4
    access_log: bool = False


class FunctionServer(BaseApplication):
    """gunicorn application whose WSGI app is the function's flask app, preloaded in the master."""

    def __init__(self, function: Function, options: ServeOptions) -> None:
        self.function = function
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        runtime = self.function.config.runtime
        settings = {
            "bind": f"{self.options.host}:{self.options.port}",
            "workers": self.options.workers,
            "threads": self.options.threads,
            "worker_class": DrainingThreadWorker if self.options.threads > 1 else "sync",
            "preload_app": True,
            "timeout": runtime.timeout,
            "graceful_timeout": runtime.timeout,
            "keepalive": 75,
            "accesslog": "-" if self.options.access_log else None,
            "errorlog": "-",
            "loglevel": "info",
            "proc_name": f"kfunc-{self.function.name}",
            "post_fork": self._post_fork,
            "control_socket_disable": True,  # gunicorn >= 24: one shared socket path per user
        }
        for key, value in settings.items():
            if key in self.cfg.settings:
                self.cfg.set(key, value)

    def load(self):
        """Runs once in the master (preload): load the model (unless it goes on CUDA), then build the app."""
        if expects_cuda():
            log.info("the model goes on CUDA, which does not survive fork: each worker loads it after fork")
            return create_app(self.function)
        with _single_threaded_openmp():
            _limit_torch_threads(1)
            try:
                self.function.load()
            except Exception as exc:
                log.error("model load failed: %s; workers serve 503 and retry", exc, exc_info=True)
        return create_app(self.function)

    def _post_fork(self, server, worker) -> None:
        _limit_torch_threads(torch_threads(self.options.workers))
        telemetry.configure_tracing(self.function.name)
        if self.function.ready:
            self.function.finish_start()
        else:
            threading.Thread(target=retry_load, args=(self.function,), name="kfunc-load", daemon=True).start()


class DrainingThreadWorker(ThreadWorker):
    """gthread worker that closes its listening sockets as soon as it starts draining.

    gunicorn keeps them open until the requests in flight are done, so a connection made after
    SIGTERM waits in the kernel's backlog and is reset at exit; closed, it is refused at once.
    """

    def set_accept_enabled(self, enabled: bool) -> None:
        super().set_accept_enabled(enabled)
        if not enabled and not self.alive:
            for listener in self.sockets:
                listener.close()


def torch_threads(workers: int) -> int:
    """Intra-op threads per worker: ``KFUNC_TORCH_THREADS``, else the cores shared out, at least 1."""
    configured = os.environ.get("KFUNC_TORCH_THREADS")
    if configured:
        return max(1, int(configured))
    return max(1, (os.cpu_count() or 1) // workers)


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
