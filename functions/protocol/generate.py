"""The Open Inference Protocol's generate extension (as Triton and KServe serve it):
``{"text_input", "parameters"}`` in, ``{"model_name", "model_version", "text_output"}`` out."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..errors import InvalidInput
from ..generation.types import Sampling
from .openai_generate import max_tokens_of, sampling_from

DEFAULT_MAX_TOKENS = 16


@dataclass(frozen=True)
class GenerateInput:
    text: str
    sampling: Sampling


def decode_generate(body: Any) -> GenerateInput:
    """The request: ``text_input`` and optional ``parameters`` (``max_tokens``, ``temperature``,
    ``top_p``, ``seed``, ``stop``); 400 naming the field otherwise."""
    if not isinstance(body, dict):
        raise InvalidInput(f"the request body must be a JSON object, got {type(body).__name__}")
    text = body.get("text_input")
    if not isinstance(text, str):
        raise InvalidInput("text_input: required, the prompt as a string")
    parameters = body.get("parameters") or {}
    if not isinstance(parameters, dict):
        raise InvalidInput("parameters: must be an object such as {\"max_tokens\": 32, \"temperature\": 0}")
    return GenerateInput(text, sampling_from(parameters, max_tokens_of(parameters, "max_tokens", DEFAULT_MAX_TOKENS)))


def encode_output(model_name: str, model_version: str | None, text: str, **extra: Any) -> dict[str, Any]:
    """A whole answer, or one chunk of ``generate_stream`` (its text the new piece)."""
    return {"model_name": model_name, "model_version": model_version or "", "text_output": text, **extra}
