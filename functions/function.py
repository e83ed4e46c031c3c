"""The served function: its handlers, its load state, and the pre -> predict -> post pipeline."""
from __future__ import annotations

import logging
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator

from opentelemetry import trace

from .config import FunctionConfig, load_config
from .context import Context
from .errors import ConfigError, ModelNotFound, ModelNotReady
from .loader import load_handlers
from .remote import RemotePredictor
from .sdk import Handlers
from .store import fetch_model
from .store.settings import settings_from_config
from .tensors import Tensor

log = logging.getLogger("kfunc")
tracer = trace.get_tracer("kfunc")

Predict = Callable[[Any, Context], Any]


class Function:
    """One function directory, loaded: answers readiness, metadata and inference calls."""

    def __init__(self, directory: str | Path, config: FunctionConfig, handlers: Handlers,
                 remote_predict: Predict | None = None) -> None:
        self.directory = Path(directory)
        self.config = config
        self.handlers = handlers
        self.remote_predict = remote_predict
        if handlers.predict is None and remote_predict is None:
            raise ConfigError(f"{self.directory}/func.py has a transformer but no @predictor; "
                              "add one, or set KFUNC_PREDICTOR_HOST to call a remote predictor")
        self.store_settings, self.cache_settings = settings_from_config(config.store, config.cache)
        self.model: Any = None
        self.error: str | None = None
        self.phases_ms: dict[str, float] = {}
        self._ready = threading.Event()
        self._load_lock = threading.Lock()

    @classmethod
    def from_directory(cls, directory: str | Path) -> "Function":
        """Read ``kfunc.yaml`` and import ``func.py``; raises ConfigError with the file and field.

        With ``KFUNC_PREDICTOR_HOST`` set, the predict step calls that remote predictor.
        """
        started = time.perf_counter()
        config = load_config(directory)
        handlers = load_handlers(directory)
        remote = RemotePredictor.from_env(config.name, handlers.inputs or config.model.inputs)
        function = cls(directory, config, handlers, remote)
        function.phases_ms["import"] = _ms_since(started)
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
            started = time.perf_counter()
            try:
                model_dir = self._model_dir()
                loaded = time.perf_counter()
                self.phases_ms["fetch"] = _ms_between(started, loaded)
                self.model = self.handlers.load(model_dir) if self.handlers.load else None
                self.phases_ms["load"] = _ms_since(loaded)
            except Exception as exc:
                self.error = f"{type(exc).__name__}: {exc}"
                raise
            self.error = None
            self._ready.set()
            log.info("function %s ready (%s)", self.name,
                     ", ".join(f"{k} {v:.0f} ms" for k, v in self.phases_ms.items()))

    def _model_dir(self) -> Path | None:
        """The model's local directory: fetched through the cache, or a local path used in place."""
        uri = self.config.model_uri
        if not uri:
            return None
        if "://" not in uri and not Path(uri).is_absolute():
            uri = str(self.directory / uri)  # relative paths are relative to the function directory
        return fetch_model(uri, self.store_settings, self.cache_settings)

    def check_ready(self) -> None:
        if not self.ready:
            reason = f"its load failed and is retried: {self.error}" if self.error else "it is still loading"
            raise ModelNotReady(f"model {self.name} is not ready: {reason}")

    def infer(self, data: Any, context: Context, *, preprocessed: bool = False) -> Any:
        """Transformer (unless ``preprocessed``), predictor, post-transformer; a span for each."""
        self.check_ready()
        if self.handlers.preprocess and not preprocessed:
            with _span("kfunc.transform.pre"):
                data = self.handlers.preprocess(data, self.model, context)
        with _span("kfunc.predict"):
            if self.remote_predict is not None:
                result = self.remote_predict(data, context)
            else:
                assert self.handlers.predict is not None
                result = self.handlers.predict(data, self.model, context)
        if self.handlers.postprocess:
            with _span("kfunc.transform.post"):
                result = self.handlers.postprocess(result, self.model, context)
        return result

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
            "parameters": {"startup_ms": dict(self.phases_ms)} if self.phases_ms else None,
        }
        return {k: v for k, v in meta.items() if v is not None}


@contextmanager
def _span(name: str) -> Iterator[None]:
    with tracer.start_as_current_span(name):
        yield


def _ms_since(started: float) -> float:
    return _ms_between(started, time.perf_counter())


def _ms_between(start: float, end: float) -> float:
    return round((end - start) * 1000, 1)
