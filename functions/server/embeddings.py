"""``POST /openai/v1/embeddings``: a predictor of text (one BYTES input) to vectors (a ``[-1, D]``
output) answered in OpenAI's shape, through the same pipeline (and batcher) as its V2 requests."""
from __future__ import annotations

import numpy as np

from .. import tokenizing
from ..binding import as_array
from ..errors import ModelNotFound
from ..function import Function
from ..protocol import openai
from ..protocol.jsonutil import loads
from .exchange import Exchange, Reply, json_reply
from .models import served_model


def create(exchange: Exchange, function: Function) -> Reply:
    request = openai.decode_embeddings(loads(exchange.body()))
    model = served_model(function, request.model)
    width = embedding_width(function)
    function.check_ready()
    if width is not None:
        _check_dimensions(function, request.dimensions, width)
    data = np.array(request.texts, dtype=object)
    vectors = as_array(exchange.infer(function, data, exchange.context("openai", request.model), model))
    if width is None:  # declared [-1, -1]: the model's answer tells
        width = vectors.shape[1]
        _check_dimensions(function, request.dimensions, width)
    if request.dimensions not in (None, width):
        vectors = _shortened(vectors, request.dimensions)
    tokens = prompt_tokens(function, request.texts)
    return json_reply(openai.encode_embeddings(request.model, vectors, request.encoding_format, tokens))


def _check_dimensions(function: Function, dimensions: int | None, width: int) -> None:
    if dimensions not in (None, width) and dimensions not in function.handlers.dimensions:
        sizes = ", ".join(str(d) for d in sorted({width, *function.handlers.dimensions}))
        raise openai.InvalidField("dimensions", f"this model gives {width}-dimensional embeddings; "
                                                f"ask for one of {sizes}, or leave dimensions out")


def embedding_width(function: Function) -> int | None:
    """D of the function's ``[-1, D]`` output (None for ``[-1, -1]``) when it maps one BYTES input
    to vectors, else 404."""
    inputs, outputs = function.inputs, function.outputs
    if (len(inputs) == 1 and inputs[0].datatype == "BYTES" and len(outputs) == 1
            and len(outputs[0].shape) == 2):
        return outputs[0].shape[1] if outputs[0].shape[1] > 0 else None
    raise ModelNotFound(f"model {function.name} does not serve embeddings: its @predictor must declare one "
                        "BYTES input and one [-1, D] output (as examples/minilm)")


def prompt_tokens(function: Function, texts: list[str]) -> int:
    """The texts' token count with the model's tokenizer (special tokens included), 0 without one."""
    tokenizer = function.tokenizer()
    return 0 if tokenizer is None else tokenizing.count(tokenizer, texts)


def _shortened(vectors: np.ndarray, size: int) -> np.ndarray:
    """A Matryoshka embedding's first ``size`` values, L2-normalised again."""
    head = vectors[:, :size].astype(np.float32)
    return head / np.maximum(np.linalg.norm(head, axis=1, keepdims=True), 1e-12)
