"""The served function: its handlers, the models it serves (a ``ModelRegistry``, one model or many)
and the pipeline a request runs through on the model it names."""
from __future__ import annotations

import copy
import logging
import os
import threading
from contextlib import nullcontext
from dataclasses import replace
from functools import cached_property
from pathlib import Path
from typing import Any, Callable, ContextManager

from .binding import bind_tensors
from .config import FunctionConfig, load_config
from .context import Context
from .device import configure_device
from .errors import ConfigError, ModelNotFound, ModelNotReady
from .loader import load_handlers
from .pipeline import Pipeline, span
from .registry import ModelEntry, ModelRegistry, ModelSource, build_registry, not_ready_message
from .remote import RemotePredictor
from .sdk import Handlers, call_load
from .startup import StartupTimeline
from .store import fetch_model
from .store.prefetch import Prefetch
from .payload_log.config import logger_settings
from .store.settings import settings_from_config
from .tensors import Tensor
from .warmup import WARMUP_ENV, WARMUP_REQUEST_ID, zero_tensors

log = logging.getLogger("kfunc")
Predict = Callable[[Any, Context], Any]


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
        self.logger_settings = logger_settings(config.logger)
        configure_device(config.runtime.device)
        self.startup = StartupTimeline()
        self._prefetch: Prefetch | None = None
        self.batching = config.runtime.batching(handlers.batch) \
            if handlers.predict is not None and remote_predict is None else None
        self.pipeline = Pipeline(handlers, remote_predict, self.batching)
        self.registry: ModelRegistry = build_registry(config, self.directory, self.store_settings,
                                                      fetch=self._model_dir, load_hook=self._run_load_hook)
        self.registry.catalogue.each_entry(self._bind_batcher)
        self._tokenizers: dict[tuple[str, str | None], Any] = {}
        self._tokenizer_lock = threading.Lock()

    def _bind_batcher(self, entry: ModelEntry) -> None:
        entry.batcher = self.pipeline.batcher(lambda: entry.model)

    @classmethod
    def from_directory(cls, directory: str | Path) -> "Function":
        """Read ``kfunc.yaml`` and import ``func.py``; raises ConfigError with the file and field.

        With ``KFUNC_PREDICTOR_HOST`` set, the predict step calls that remote predictor. A remote
        model is fetched while ``func.py`` is imported (see ``functions.store.prefetch``).
        """
        timeline = StartupTimeline()
        timeline.mark("kfunc_import")
        config = load_config(directory)
        prefetch = None
        if not config.model_repository and config.models is None:
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

    @cached_property
    def multi_model(self) -> bool:
        """Whether this function serves a repository (or a ``models:`` list) rather than its one model
        (fixed when the registry was built; read on every request, so not re-read from the environment)."""
        return self.config.model_repository is not None or self.config.models is not None

    @property
    def ready(self) -> bool:
        """Ready to serve: every pinned model (a single-model function's one model) is loaded."""
        return all(entry.ready for entry in self.registry.pinned)

    def load(self) -> None:
        """Load the pinned models (a single-model function's model); on failure re-raise its error."""
        for entry in self.registry.pinned:
            self.registry.load(entry)

    def finish_start(self) -> None:
        """Once loaded, in each serving process (a gunicorn worker, after fork): run the warm-up
        inference, mark the process ready and log its cold-start timeline in one line."""
        self.warm_up()
        self.startup.mark("ready")
        log.info("function %s ready in process %d; ms since process start: %s",
                 self.name, os.getpid(), self.startup.summary())

    def warm_up(self) -> None:
        """One inference on zeros per pinned model through the whole pipeline, so the first request
        does not pay for lazy initialisation. Skipped when the inputs are not declared, the predictor
        is remote, or ``KFUNC_WARMUP=0``; a failure is only logged."""
        if not self.inputs or self.remote_predict is not None or os.environ.get(WARMUP_ENV, "1") == "0":
            return
        for entry in self.registry.pinned:
            context = Context(request_id=WARMUP_REQUEST_ID, protocol="v2", model_name=entry.name,
                              model_version=entry.version)
            try:
                with span("kfunc.warmup"):
                    self.infer(bind_tensors(zero_tensors(self.inputs), self.inputs), context)
            except Exception as exc:
                log.warning("warm-up inference of %s on zeros failed (%s: %s); serving anyway. "
                            "Set %s=0 to skip it", entry.name, type(exc).__name__, exc, WARMUP_ENV)
                return
        self.startup.mark("warmup")

    def _model_dir(self, source: ModelSource) -> Path | None:
        """A model's local directory: fetched through the cache, or a local path used in place."""
        if source.uri is None:
            return None
        if self._prefetch is not None:  # first attempt only: a retry fetches afresh
            prefetch, self._prefetch = self._prefetch, None
            path = prefetch.result()
        else:
            listed = list(source.files) if source.files is not None else None  # a repository listing's
            path = fetch_model(source.uri, self.store_settings, self.cache_settings, files=listed)
        if not self.multi_model:
            self.startup.mark("fetch")
        return path

    def _run_load_hook(self, model_dir: Path | None, source: ModelSource) -> Any:
        if self.handlers.load is None:
            model = None
        else:
            context = Context(request_id="load", protocol="load", model_name=source.name,
                              model_version=source.version)
            model = call_load(self.handlers.load, model_dir, context)
        if not self.multi_model:
            self.startup.mark("load")
        return model

    def model(self, name: str, version: str | None = None) -> ModelEntry:
        """The served model a request names, or ModelNotFound (404) naming the list endpoint."""
        return self.registry.resolve(name, version)

    def check_ready(self) -> None:
        """503 while a single-model function's model is loading or failing (a multi-model function
        loads a model on its first request instead: see ``ModelRegistry.use``)."""
        if not self.multi_model and not self.ready:
            raise ModelNotReady(not_ready_message(self.registry.entries[0]))

    def tokenizer(self, name: str | None = None, version: str | None = None) -> Any:
        """A copy of the named (else the first) model's tokenizer (the handlers' ``tokenizer=``),
        None without one. The server's own copy: a fast tokenizer refuses to be used while another
        thread changes its padding or truncation, as a predictor's calls do."""
        if self.handlers.tokenizer is None:
            return None
        self.check_ready()
        entry = self.registry.resolve(name or self.registry.names()[0], version)
        key = (entry.name, entry.version)
        with self._tokenizer_lock:
            if key not in self._tokenizers:
                with self.registry.use(entry) as model:
                    self._tokenizers[key] = copy.deepcopy(self.handlers.tokenizer(model))
            return self._tokenizers[key]

    def generate(self, prompt: Any, context: Context) -> Any:
        """The ``@generator``'s tokens for ``prompt`` on the model ``context`` names (an iterator,
        sync or async), not yet iterated."""
        self.check_ready()
        if self.handlers.generate is None:
            raise ModelNotFound(f"model {self.name} does not generate text; add a @generator to func.py")
        with self.registry.use(self._entry(context)) as model:
            return self.handlers.generate(prompt, model, context)

    def expecting(self) -> ContextManager[None]:
        """Wrap the reading of an inference request: a batching predictor may wait for it (a
        single-model function's; a multi-model one's batches take whoever is queued)."""
        if self.multi_model:
            return nullcontext()
        batcher = self.registry.entries[0].batcher
        return batcher.expecting() if batcher is not None else nullcontext()

    def _entry(self, context: Context) -> ModelEntry:
        return self.registry.resolve(context.model_name or self.registry.names()[0], context.model_version)

    def infer(self, data: Any, context: Context, *, preprocessed: bool = False,
              entry: ModelEntry | None = None) -> Any:
        """The pipeline on the model ``context`` names (``model_name``, ``model_version``), or on
        ``entry`` when the caller has resolved it already."""
        self.check_ready()
        if self.handlers.predict is None and self.remote_predict is None:
            raise ModelNotFound(f"model {self.name} generates text and has no @predictor; "
                                f"use POST /openai/v1/completions or /v2/models/{self.name}/generate")
        entry = entry or self._entry(context)
        with self.registry.use(entry) as model:
            return self.pipeline.infer(data, context, model, entry.batcher, preprocessed=preprocessed)

    def explain(self, data: Any, context: Context) -> Any:
        """Transformer then explainer, as KServe's ``:explain`` does."""
        self.check_ready()
        entry = self._entry(context)
        with self.registry.use(entry) as model:
            return self.pipeline.explain(data, context, model)

    def metadata(self, entry: ModelEntry | None = None) -> dict[str, Any]:
        """OIP model metadata: a single-model function's cold-start phases under ``parameters``;
        each model of a repository its own load timeline and state."""
        entry = entry or self.registry.entries[0]
        versions = [e.version for e in self.registry.entries if e.name == entry.name and e.version]
        parameters = entry.parameters() if self.multi_model else self.startup.parameters()
        meta: dict[str, Any] = {
            "name": entry.name,
            "versions": versions or None,
            "platform": self.config.model.platform,
            "inputs": [t.metadata() for t in self.inputs],
            "outputs": [t.metadata() for t in self.outputs],
            "parameters": parameters or None,
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
