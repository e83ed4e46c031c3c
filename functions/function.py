"""The served function: its handlers, its load state, and the pre -> predict -> post pipeline."""
from __future__ import annotations

import copy
import logging
import os
import threading
from contextlib import nullcontext
from dataclasses import replace
from pathlib import Path
from time import perf_counter
from typing import Any, Callable, ContextManager

import numpy as np
from opentelemetry import trace

from . import telemetry, timing
from .batching import Batcher
from .binding import bind_tensors
from .config import BatchSettings, FunctionConfig, load_config
from .context import Context
from .datatypes import to_numpy_dtype
from .device import configure_device
from .errors import ConfigError, ModelNotFound, ModelNotReady
from .loader import load_handlers
from .protocol.v2 import InferTensor
from .remote import RemotePredictor
from .sdk import Handlers
from .startup import StartupTimeline
from .store import fetch_model
from .store.prefetch import Prefetch
from .store.settings import settings_from_config
from .tensors import Tensor

log = logging.getLogger("kfunc")
tracer = trace.get_tracer("kfunc")

Predict = Callable[[Any, Context], Any]
WARMUP_ENV = "KFUNC_WARMUP"
WARMUP_REQUEST_ID = "warm-up"


class Function:
    """One function directory, loaded: answers readiness, metadata and inference calls."""

    def __init__(self, directory: str | Path, config: FunctionConfig, handlers: Handlers,
                 remote_predict: Predict | None = None) -> None:
        self.directory = Path(directory)
        self.config = config
        self.handlers = handlers
        self.remote_predict = remote_predict
        if handlers.predict is None and remote_predict is None and handlers.generate is None:
            raise ConfigError(f"{self.directory}/func.py has a transformer but no @predictor; "
                              "add one, or set KFUNC_PREDICTOR_HOST to call a remote predictor")
        self.store_settings, self.cache_settings = settings_from_config(config.store, config.cache)
        configure_device(config.runtime.device)
        self.model: Any = None
        self.error: str | None = None
        self.startup = StartupTimeline()
        self._ready = threading.Event()
        self._load_lock = threading.Lock()
        self._prefetch: Prefetch | None = None
        self._tokenizer: Any = None
        self.batching: BatchSettings | None = None
        self._batcher: Batcher | None = None
        if handlers.predict is not None and remote_predict is None:
            self.batching = config.runtime.batching(handlers.batch)
        if self.batching is not None:
            self._batcher = Batcher(self._predict_locally, self.batching, raw_input=handlers.preprocess is None)

    @classmethod
    def from_directory(cls, directory: str | Path) -> "Function":
        """Read ``kfunc.yaml`` and import ``func.py``; raises ConfigError with the file and field.

        With ``KFUNC_PREDICTOR_HOST`` set, the predict step calls that remote predictor. A remote
        model is fetched while ``func.py`` is imported (see ``functions.store.prefetch``).
        """
        timeline = StartupTimeline()
        timeline.mark("kfunc_import")
        config = load_config(directory)
        prefetch = Prefetch.start(config.model_uri, *settings_from_config(config.store, config.cache))
        handlers = for_role(load_handlers(directory), os.environ.get("KFUNC_ROLE", ""))
        remote = RemotePredictor.from_env(config.name, handlers.inputs or config.model.inputs,
                                          handlers.outputs or config.model.outputs)
        function = cls(directory, config, handlers, remote)
        timeline.mark("func_import")
        function.startup = timeline
        function._prefetch = prefetch
        return function

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def version(self) -> str | None:
        return self.config.version

    @property
    def inputs(self) -> list[Tensor]:
        return self.handlers.inputs or self.config.model.inputs

    @property
    def outputs(self) -> list[Tensor]:
        return self.handlers.outputs or self.config.model.outputs

    @property
    def ready(self) -> bool:
        return self._ready.is_set()

    def load(self) -> None:
        """Run the load hook once; on failure keep not-ready with the error and re-raise."""
        with self._load_lock:
            if self.ready:
                return
            try:
                model_dir = self._model_dir()
                self.startup.mark("fetch")
                self.model = self.handlers.load(model_dir) if self.handlers.load else None
                self.startup.mark("load")
            except Exception as exc:
                self.error = f"{type(exc).__name__}: {exc}"
                raise
            self.error = None
            self._ready.set()

    def finish_start(self) -> None:
        """Once loaded, in each serving process (a gunicorn worker, after fork): run the warm-up
        inference, mark the process ready and log its cold-start timeline in one line."""
        self.warm_up()
        self.startup.mark("ready")
        log.info("function %s ready in process %d; ms since process start: %s",
                 self.name, os.getpid(), self.startup.summary())

    def warm_up(self) -> None:
        """One inference on zeros (empty strings for BYTES, -1 dims as 1) through the whole pipeline,
        so the first request does not pay for lazy initialisation. Skipped when the inputs are not
        declared, the predictor is remote, or ``KFUNC_WARMUP=0``; a failure is only logged."""
        if not self.inputs or self.remote_predict is not None or os.environ.get(WARMUP_ENV, "1") == "0":
            return
        tensors = [InferTensor(t.name, t.datatype, _warmup_shape(t), _zeros(t)) for t in self.inputs]
        context = Context(request_id=WARMUP_REQUEST_ID, protocol="v2", model_name=self.name)
        try:
            with _span("kfunc.warmup"):
                self.infer(bind_tensors(tensors, self.inputs), context)
        except Exception as exc:
            log.warning("warm-up inference of %s on zeros failed (%s: %s); serving anyway. "
                        "Set %s=0 to skip it", self.name, type(exc).__name__, exc, WARMUP_ENV)
            return
        self.startup.mark("warmup")

    def _model_dir(self) -> Path | None:
        """The model's local directory: fetched through the cache, or a local path used in place."""
        uri = self.config.model_uri
        if not uri:
            return None
        if self._prefetch is not None:  # first attempt only: a retry fetches afresh
            prefetch, self._prefetch = self._prefetch, None
            return prefetch.result()
        if "://" not in uri and not Path(uri).is_absolute():
            uri = str(self.directory / uri)  # relative paths are relative to the function directory
        return fetch_model(uri, self.store_settings, self.cache_settings)

    def check_ready(self) -> None:
        if not self.ready:
            reason = f"its load failed and is retried: {self.error}" if self.error else "it is still loading"
            raise ModelNotReady(f"model {self.name} is not ready: {reason}")

    def tokenizer(self) -> Any:
        """A copy of the loaded model's tokenizer (the handlers' ``tokenizer=``), None without one.
        The server's own copy: a fast tokenizer refuses to be used while another thread changes
        its padding or truncation, as a predictor's calls do."""
        if self._tokenizer is None and self.handlers.tokenizer is not None:
            self.check_ready()
            with self._load_lock:
                if self._tokenizer is None:
                    self._tokenizer = copy.deepcopy(self.handlers.tokenizer(self.model))
        return self._tokenizer

    def generate(self, prompt: Any, context: Context) -> Any:
        """The ``@generator``'s tokens for ``prompt`` (an iterator, sync or async), not yet iterated."""
        self.check_ready()
        if self.handlers.generate is None:
            raise ModelNotFound(f"model {self.name} does not generate text; add a @generator to func.py")
        return self.handlers.generate(prompt, self.model, context)

    def expecting(self) -> ContextManager[None]:
        """Wrap the reading of an inference request: a batching predictor may wait for it."""
        return self._batcher.expecting() if self._batcher is not None else nullcontext()

    def infer(self, data: Any, context: Context, *, preprocessed: bool = False) -> Any:
        """Transformer (unless ``preprocessed``), predictor (batched, if it batches),
        post-transformer; a span for each when tracing records, their times on the request's timer."""
        self.check_ready()
        if self.handlers.predict is None and self.remote_predict is None:
            raise ModelNotFound(f"model {self.name} generates text and has no @predictor; "
                                f"use POST /openai/v1/completions or /v2/models/{self.name}/generate")
        timer = timing.current()
        if self.handlers.preprocess and not preprocessed:
            started = perf_counter()
            with _span("kfunc.transform.pre"):
                data = self.handlers.preprocess(data, self.model, context)
            if timer is not None:
                timer.transform += perf_counter() - started
        if self._batcher is not None:
            result = self._batcher.submit(data, context)
        else:
            started = perf_counter()
            with _span("kfunc.predict"):
                result = self._predict_once(data, context)
            if timer is not None:
                timer.model += perf_counter() - started
        if self.handlers.postprocess:
            started = perf_counter()
            with _span("kfunc.transform.post"):
                result = self.handlers.postprocess(result, self.model, context)
            if timer is not None:
                timer.transform += perf_counter() - started
        return result

    def _predict_once(self, data: Any, context: Context) -> Any:
        if self.remote_predict is not None:
            return self.remote_predict(data, context)
        return self._predict_locally(data, context)

    def _predict_locally(self, data: Any, context: Context) -> Any:
        assert self.handlers.predict is not None
        return self.handlers.predict(data, self.model, context)

    def explain(self, data: Any, context: Context) -> Any:
        """Transformer then explainer, as KServe's ``:explain`` does."""
        self.check_ready()
        if self.handlers.explain is None:
            raise ModelNotFound(f"model {self.name} has no explainer; add an @explainer to func.py")
        if self.handlers.preprocess:
            with _span("kfunc.transform.pre"):
                data = self.handlers.preprocess(data, self.model, context)
        with _span("kfunc.explain"):
            return self.handlers.explain(data, self.model, context)

    def metadata(self) -> dict[str, Any]:
        """OIP model metadata, with cold-start phases under ``parameters``."""
        meta: dict[str, Any] = {
            "name": self.name,
            "versions": [self.version] if self.version else None,
            "platform": self.config.model.platform,
            "inputs": [t.metadata() for t in self.inputs],
            "outputs": [t.metadata() for t in self.outputs],
            "parameters": self.startup.parameters() or None,
        }
        return {k: v for k, v in meta.items() if v is not None}


def for_role(handlers: Handlers, role: str) -> Handlers:
    """The handlers one side of a split deployment (``KFUNC_ROLE``) runs.

    ``predictor`` serves the model without the transformer; ``transformer`` runs only the
    transformer (no model load, handlers get ``model=None``) and calls the remote predictor.
    """
    if role == "predictor":
        return replace(handlers, preprocess=None, postprocess=None)
    if role == "transformer":
        if not os.environ.get("KFUNC_PREDICTOR_HOST"):
            raise ConfigError("KFUNC_ROLE=transformer needs KFUNC_PREDICTOR_HOST (the predictor's host:port)")
        return replace(handlers, load=None, predict=None, explain=None)
    if role:
        raise ConfigError(f"KFUNC_ROLE must be 'predictor' or 'transformer', got {role!r}")
    return handlers


def _span(name: str) -> ContextManager[Any]:
    """A span around the block when tracing records; else nothing (no cost)."""
    return tracer.start_as_current_span(name) if telemetry.recording() else nullcontext()


def _warmup_shape(tensor: Tensor) -> list[int]:
    return [1 if dim == -1 else dim for dim in tensor.shape]


def _zeros(tensor: Tensor) -> np.ndarray:
    if tensor.datatype == "BYTES":
        return np.full(_warmup_shape(tensor), b"", dtype=object)
    return np.zeros(_warmup_shape(tensor), dtype=to_numpy_dtype(tensor.datatype))
