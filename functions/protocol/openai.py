"""OpenAI API wire shapes shared by every ``/openai/v1`` route: the error body, the model list,
the embeddings request and answer. Plain data in, bytes-ready dicts out; no web server here."""
from __future__ import annotations

import base64
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import InvalidInput

ENCODINGS = ("float", "base64")


class InvalidField(InvalidInput):
    """A request field OpenAI's API would refuse; ``param`` names it in the error body."""

    def __init__(self, param: str, message: str) -> None:
        super().__init__(f"{param}: {message}")
        self.param = param


def error_body(status: int, message: str, param: str | None = None, code: str | None = None) -> dict[str, Any]:
    """``{"error": {"message", "type", "param", "code"}}`` as OpenAI answers a failed request."""
    kind = _ERROR_TYPES.get(status, "invalid_request_error" if status < 500 else "server_error")
    return {"error": {"message": message, "type": kind, "param": param, "code": code}}


_ERROR_TYPES = {429: "rate_limit_error"}


def model_list(names: list[str], created: int, owner: str = "kfunc") -> dict[str, Any]:
    """``GET /openai/v1/models``: each served model as an OpenAI model object."""
    return {"object": "list",
            "data": [{"id": name, "object": "model", "created": created, "owned_by": owner} for name in names]}


def request_object(body: Any) -> dict[str, Any]:
    """The decoded body as the JSON object every OpenAI request is, or 400."""
    if not isinstance(body, dict):
        raise InvalidInput(f"the request body must be a JSON object, got {type(body).__name__}")
    return body


def required_model(body: dict[str, Any]) -> str:
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise InvalidField("model", "required: the name of a served model (GET /openai/v1/models lists them)")
    return model


@dataclass(frozen=True)
class EmbeddingsRequest:
    """``POST /openai/v1/embeddings``, checked."""

    model: str
    texts: list[str]
    encoding_format: str = "float"
    dimensions: int | None = None


def decode_embeddings(body: Any) -> EmbeddingsRequest:
    """``{"model", "input": str | [str], "encoding_format"?, "dimensions"?, "user"?}``; 400 naming
    the field otherwise."""
    body = request_object(body)
    model = required_model(body)
    texts = body.get("input")
    if isinstance(texts, str):
        texts = [texts]
    if not isinstance(texts, list) or not texts or not all(isinstance(t, str) for t in texts):
        raise InvalidField("input", "must be a string or a non-empty list of strings "
                                    "(token arrays are not accepted: send the text)")
    encoding = body.get("encoding_format") or "float"
    if encoding not in ENCODINGS:
        raise InvalidField("encoding_format", f"must be 'float' or 'base64', got {encoding!r}")
    dimensions = body.get("dimensions")
    if dimensions is not None and (type(dimensions) is not int or dimensions < 1):
        raise InvalidField("dimensions", f"must be a whole number >= 1, got {dimensions!r}")
    return EmbeddingsRequest(model, texts, encoding, dimensions)


def encode_embeddings(model: str, vectors: np.ndarray, encoding: str, prompt_tokens: int) -> dict[str, Any]:
    """The embeddings answer: one ``embedding`` object a row, floats or base64 of little-endian float32."""
    rows = np.ascontiguousarray(vectors, dtype="<f4")
    if encoding == "base64":
        data = [base64.b64encode(row.tobytes()).decode("ascii") for row in rows]
    else:
        data = rows.tolist()
    return {"object": "list", "model": model,
            "data": [{"object": "embedding", "index": i, "embedding": e} for i, e in enumerate(data)],
            "usage": {"prompt_tokens": prompt_tokens, "total_tokens": prompt_tokens}}


def now() -> int:
    """Seconds since the epoch, as OpenAI's ``created`` fields."""
    return int(time.time())
