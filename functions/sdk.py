"""The handler SDK: decorators that register plain functions, and a class-based ``Model``.

    from functions import load, predictor, Tensor

    @load
    def setup(model_dir):
        return torch.load(model_dir / "model.pt", weights_only=False)

    @predictor(inputs=[Tensor("x", "FP32", [-1, 4])], outputs=[Tensor("y", "FP32", [-1, 1])])
    def predict(model, x):
        return model(torch.from_numpy(x)).detach().numpy()

A handler's parameters named ``model`` and ``context`` (or ``ctx``) are injected; its one
other parameter receives the data. Handlers may be ``async def``.

``@predictor(batch=True)`` makes a batching predictor: concurrent requests are stacked along
the first axis into one call and its result is split back (see ``functions.batching``).

``@generator`` registers a text generator (served at ``/openai/v1/completions``, ``/chat/completions``
and the OIP ``generate`` endpoints): it gets a ``Prompt``, finds the sampling parameters at
``context.sampling``, and returns or yields tokens (ids, text pieces or ``Token``s).
"""
from __future__ import annotations

import functools
import inspect
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Sequence

from .config import BatchSettings
from .context import Context
from .tensors import Tensor

_INJECTED = {"model", "context", "ctx"}
_loop = threading.local()


class Handler:
    """A user function, called with the data plus whichever of model/context it names."""

    def __init__(self, fn: Callable[..., Any], role: str) -> None:
        params = [p for p in inspect.signature(fn).parameters.values()
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
        data = [p.name for p in params if p.name not in _INJECTED and p.default is p.empty]
        if len(data) > 1:
            raise TypeError(
                f"{role} {fn.__qualname__}() takes {len(data)} data parameters ({', '.join(data)}); "
                "it takes one (the request data) plus optionally 'model' and 'context'"
            )
        self.fn = fn
        self.role = role
        self.data_param = data[0] if data else None
        self.wants = {p.name for p in params} & _INJECTED
        self._context_params = tuple(sorted(self.wants & {"context", "ctx"}))
        self.is_async = inspect.iscoroutinefunction(fn)

    def __call__(self, data: Any, model: Any, context: Context) -> Any:
        kwargs: dict[str, Any] = {}
        if self.data_param:
            kwargs[self.data_param] = data
        if "model" in self.wants:
            kwargs["model"] = model
        for name in self._context_params:
            kwargs[name] = context
        result = self.fn(**kwargs)
        return _run(result) if self.is_async else result


_worker_loop: Any = None  # the serving process's event loop, once it has one


def use_event_loop(loop: Any) -> None:
    """Run async handlers on ``loop`` (the worker's), so what ``@load`` made can be awaited there."""
    global _worker_loop
    _worker_loop = loop


def _run(coroutine: Any) -> Any:
    """Run an async handler's coroutine: on the worker's loop when called from one of the
    handler threads, else (at warm-up, in tests) on this thread's own loop."""
    import asyncio  # here, not at the top: ~20 ms of every start, for async handlers only

    if _worker_loop is not None and _worker_loop.is_running():
        return asyncio.run_coroutine_threadsafe(coroutine, _worker_loop).result()
    loop = getattr(_loop, "loop", None)
    if loop is None or loop.is_closed():
        loop = _loop.loop = asyncio.new_event_loop()
    return loop.run_until_complete(coroutine)


@dataclass
class Handlers:
    """Everything a ``func.py`` registered."""

    load: Callable[[Any], Any] | None = None
    predict: Handler | None = None
    preprocess: Handler | None = None
    postprocess: Handler | None = None
    explain: Handler | None = None
    inputs: list[Tensor] = field(default_factory=list)
    outputs: list[Tensor] = field(default_factory=list)
    batch: BatchSettings | None = None  # set for a batching predictor
    routes: list[Any] = field(default_factory=list)  # flask Blueprints or apps (``routes``)
    generate: Handler | None = None
    tokenizer: Callable[[Any], Any] | None = None  # the loaded model -> its (Hugging Face) tokenizer
    dimensions: tuple[int, ...] = ()  # embedding sizes a request may truncate to (Matryoshka)

    def set(self, slot: str, value: Any) -> None:
        if getattr(self, slot) is not None:
            raise TypeError(f"func.py registers two {slot} handlers; keep one")
        setattr(self, slot, value)


_collecting: list[Handlers] = []


@contextmanager
def collecting() -> Iterator[Handlers]:
    """Collect the handlers that decorators register while a ``func.py`` is executed."""
    handlers = Handlers()
    _collecting.append(handlers)
    try:
        yield handlers
    finally:
        _collecting.pop()


def _register(slot: str, value: Any) -> None:
    if _collecting:
        _collecting[-1].set(slot, value)


def load(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Register the load hook: called with the local model directory (or None), and the ``context``
    (``model_name``, ``model_version``) if it takes one; returns the model. A function serving a
    repository calls it once per model it loads."""
    _register("load", fn)
    return fn


def call_load(fn: Callable[..., Any], model_dir: Any, context: Context) -> Any:
    """Run a load hook, handing it ``context`` (or ``ctx``) when its signature names one."""
    extra = {name: context for name in _context_parameters(fn)}
    return fn(model_dir, **extra)


@functools.lru_cache(maxsize=None)
def _context_parameters(fn: Callable[..., Any]) -> frozenset[str]:
    """Which of ``context`` / ``ctx`` a hook's signature names (read once: a model registry calls it on every load)."""
    return frozenset(inspect.signature(fn).parameters) & {"context", "ctx"}


def predictor(fn: Callable | None = None, *, inputs: Sequence[Tensor] = (), outputs: Sequence[Tensor] = (),
              batch: bool = False, max_batch_size: int = BatchSettings.max_batch_size,
              max_latency_ms: float = BatchSettings.max_latency_ms,
              tokenizer: Callable[[Any], Any] | None = None, dimensions: Sequence[int] = ()):
    """Register the predictor, optionally declaring its input and output tensors.

    With ``batch=True`` it receives the rows of up to ``max_batch_size`` concurrent requests
    stacked along the first axis and returns one row per input row; a request waits at most
    ``max_latency_ms`` for batch-mates, and only while others are on their way.

    A predictor of one BYTES input and a ``[-1, D]`` output also serves ``/openai/v1/embeddings``;
    ``tokenizer`` (the loaded model -> its tokenizer) counts the ``usage`` tokens, ``dimensions``
    lists the smaller sizes a Matryoshka model's vectors may be cut to.
    """
    settings = BatchSettings(max_batch_size, max_latency_ms) if batch else None

    def register(f: Callable) -> Callable:
        _register("predict", Handler(f, "predictor"))
        if _collecting:
            _collecting[-1].inputs = list(inputs)
            _collecting[-1].outputs = list(outputs)
            _collecting[-1].batch = settings
            _collecting[-1].tokenizer = tokenizer
            _collecting[-1].dimensions = tuple(dimensions)
        return f

    return register(fn) if fn is not None else register


def generator(fn: Callable | None = None, *, tokenizer: Callable[[Any], Any] | None = None):
    """Register the text generator: ``fn(model, prompt, context)`` returns or yields the tokens
    that continue ``prompt`` (a ``functions.generation.Prompt``), as ids, text pieces or
    ``Token``s, sampled as ``context.sampling`` says. The server stops it at ``max_tokens`` or a
    ``stop`` string and when the client leaves. ``tokenizer`` (the loaded model -> its Hugging
    Face tokenizer) gives the chat template, the prompt's token ids and the text of ids."""

    def register(f: Callable) -> Callable:
        _register("generate", Handler(f, "generator"))
        if _collecting:
            _collecting[-1].tokenizer = tokenizer
        return f

    return register(fn) if fn is not None else register


def explainer(fn: Callable) -> Callable:
    """Register the explainer, served at ``:explain``."""
    _register("explain", Handler(fn, "explainer"))
    return fn


class _Transformer:
    """``@transformer`` (or ``@transformer.pre``) runs before the predictor, ``@transformer.post`` after."""

    def __call__(self, fn: Callable) -> Callable:
        return self.pre(fn)

    def pre(self, fn: Callable) -> Callable:
        _register("preprocess", Handler(fn, "transformer"))
        return fn

    def post(self, fn: Callable) -> Callable:
        _register("postprocess", Handler(fn, "transformer.post"))
        return fn


transformer = _Transformer()


def routes(app: Any) -> Any:
    """Serve a flask ``Blueprint`` (or ``Flask`` app) of the function's own HTTP routes on the same
    port, beside the protocols; a path a protocol serves stays the protocol's."""
    if _collecting:
        _collecting[-1].routes.append(app)
    return app


class Model:
    """KServe-style class handler: override ``load`` and ``predict``, optionally ``preprocess``,
    ``postprocess`` and ``explain``; declare tensors with the ``inputs``/``outputs`` class attributes,
    batching with ``batch = True`` (and ``max_batch_size``, ``max_latency_ms``), as ``@predictor``.
    Methods take ``(self, data)`` or ``(self, data, context)``."""

    inputs: Sequence[Tensor] = ()
    outputs: Sequence[Tensor] = ()
    batch: bool = False
    max_batch_size: int = BatchSettings.max_batch_size
    max_latency_ms: float = BatchSettings.max_latency_ms

    def load(self, model_dir: Any) -> Any:
        """Load weights from ``model_dir``; the return value is ignored (keep state on self)."""

    def predict(self, data: Any, context: Context) -> Any:
        raise NotImplementedError("a Model subclass must implement predict()")

    def handlers(self) -> Handlers:
        """The instance as registered handlers."""
        cls = type(self)
        overridden = lambda name: getattr(cls, name) is not getattr(Model, name, None)  # noqa: E731
        batch = BatchSettings(self.max_batch_size, self.max_latency_ms) if self.batch else None
        handlers = Handlers(load=self._load, inputs=list(self.inputs), outputs=list(self.outputs), batch=batch)
        for slot, method in (("predict", "predict"), ("preprocess", "preprocess"),
                             ("postprocess", "postprocess"), ("explain", "explain")):
            if hasattr(cls, method) and overridden(method):
                handlers.set(slot, Handler(getattr(self, method), f"{cls.__name__}.{method}"))
        return handlers

    def _load(self, model_dir: Any) -> "Model":
        self.load(model_dir)
        return self
