"""The handler pipeline of a function: transformer -> predictor (batched, if it batches) -> post-transformer,
and transformer -> explainer, run on the model object a request's model resolved to."""
from __future__ import annotations

from contextlib import nullcontext
from time import perf_counter
from typing import Any, Callable, ContextManager

from opentelemetry import trace

from . import telemetry, timing
from .batching import Batcher
from .config import BatchSettings
from .context import Context
from .errors import ModelNotFound
from .sdk import Handlers

tracer = trace.get_tracer("kfunc")
Predict = Callable[[Any, Context], Any]


class Pipeline:
    """The handlers a request runs through; ``remote_predict`` stands in for a remote predictor."""

    def __init__(self, handlers: Handlers, remote_predict: Predict | None, batching: BatchSettings | None) -> None:
        self.handlers = handlers
        self.remote_predict = remote_predict
        self.batching = batching

    def batcher(self, model_of: Callable[[], Any]) -> Batcher | None:
        """A batcher calling the predictor on ``model_of()`` (one per model: rows of two models never stack)."""
        if self.batching is None:
            return None
        predict = self.handlers.predict
        assert predict is not None
        return Batcher(lambda data, context: predict(data, model_of(), context), self.batching,
                       raw_input=self.handlers.preprocess is None)

    def infer(self, data: Any, context: Context, model: Any, batcher: Batcher | None,
              *, preprocessed: bool = False) -> Any:
        """Transformer (unless ``preprocessed``), predictor, post-transformer; a span for each when
        tracing records, their times on the request's timer."""
        timer = timing.current()
        if self.handlers.preprocess and not preprocessed:
            started = perf_counter()
            with span("kfunc.transform.pre"):
                data = self.handlers.preprocess(data, model, context)
            if timer is not None:
                timer.transform += perf_counter() - started
        if batcher is not None:
            result = batcher.submit(data, context)
        else:
            started = perf_counter()
            with span("kfunc.predict"):
                result = self._predict_once(data, model, context)
            if timer is not None:
                timer.model += perf_counter() - started
        if self.handlers.postprocess:
            started = perf_counter()
            with span("kfunc.transform.post"):
                result = self.handlers.postprocess(result, model, context)
            if timer is not None:
                timer.transform += perf_counter() - started
        return result

    def _predict_once(self, data: Any, model: Any, context: Context) -> Any:
        if self.remote_predict is not None:
            return self.remote_predict(data, context)
        assert self.handlers.predict is not None
        return self.handlers.predict(data, model, context)

    def explain(self, data: Any, context: Context, model: Any) -> Any:
        """Transformer then explainer, as KServe's ``:explain`` does."""
        if self.handlers.explain is None:
            raise ModelNotFound(f"model {context.model_name} has no explainer; add an @explainer to func.py")
        if self.handlers.preprocess:
            with span("kfunc.transform.pre"):
                data = self.handlers.preprocess(data, model, context)
        with span("kfunc.explain"):
            return self.handlers.explain(data, model, context)


def span(name: str) -> ContextManager[Any]:
    """A span around the block when tracing records; else nothing (no cost)."""
    return tracer.start_as_current_span(name) if telemetry.recording() else nullcontext()
