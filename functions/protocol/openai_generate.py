"""OpenAI completions and chat completions on the wire: requests checked into plain values,
answers and stream chunks as dicts (``functions.protocol.openai`` has the shared shapes)."""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from ..generation.types import Sampling
from .openai import InvalidField, request_object, required_model

MAX_N = 16
MAX_STOPS = 4
MAX_LOGPROBS = 5  # completions' ``logprobs``
MAX_TOP_LOGPROBS = 20  # chat's ``top_logprobs``
ROLES = ("system", "developer", "user", "assistant", "tool")


@dataclass(frozen=True)
class GenerateRequest:
    """A completions or chat request: the prompts (or chat messages), how to sample, what to return."""

    model: str
    sampling: Sampling
    prompts: list[str | list[int]] = field(default_factory=list)  # texts or token ids
    messages: list[dict[str, Any]] | None = None
    n: int = 1
    stream: bool = False
    include_usage: bool = False
    logprobs: bool = False


@dataclass
class Choice:
    """One generated choice, as the answer reports it."""

    index: int
    text: str = ""
    finish_reason: str | None = None
    tokens: list[str] = field(default_factory=list)
    logprobs: list[float | None] = field(default_factory=list)
    top: list[tuple[tuple[str, float], ...]] = field(default_factory=list)  # each token's likeliest


def decode_completion(body: Any) -> GenerateRequest:
    """``POST /openai/v1/completions``: ``prompt`` a string, a list of strings, a list of token
    ids (one prompt) or a list of lists of them."""
    body = request_object(body)
    prompts = _prompts(body.get("prompt"))
    logprobs = _count(body, "logprobs", MAX_LOGPROBS)
    return _request(body, max_tokens=max_tokens_of(body, "max_tokens", 16), prompts=prompts,
                    logprobs=logprobs is not None, top_logprobs=logprobs or 0)


def decode_chat(body: Any) -> GenerateRequest:
    """``POST /openai/v1/chat/completions``: ``messages`` of roles and text content."""
    body = request_object(body)
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise InvalidField("messages", "must be a non-empty list of {\"role\", \"content\"} objects")
    checked = [_message(i, m) for i, m in enumerate(messages)]
    logprobs = body.get("logprobs", False)
    if not isinstance(logprobs, bool):
        raise InvalidField("logprobs", f"must be true or false, got {logprobs!r}")
    top = _count(body, "top_logprobs", MAX_TOP_LOGPROBS)
    if top is not None and not logprobs:
        raise InvalidField("top_logprobs", "needs \"logprobs\": true")
    limit = "max_completion_tokens" if body.get("max_completion_tokens") is not None else "max_tokens"
    return _request(body, max_tokens=max_tokens_of(body, limit, None), messages=checked, logprobs=logprobs,
                    top_logprobs=top or 0)


def _count(body: dict[str, Any], name: str, most: int) -> int | None:
    """A ``logprobs``-like field: a whole number from 0 to ``most``, or None when absent."""
    value = body.get(name)
    if value is not None and (type(value) is not int or not 0 <= value <= most):
        raise InvalidField(name, f"must be a whole number from 0 to {most}, got {value!r}")
    return value


def _prompts(prompt: Any) -> list[str | list[int]]:
    """Completions' ``prompt`` as a list of prompts, each a text or its token ids."""
    if isinstance(prompt, str):
        return [prompt]
    if isinstance(prompt, list) and prompt:
        if all(isinstance(p, str) for p in prompt):
            return prompt
        if _token_ids(prompt):
            return [prompt]
        if all(isinstance(p, list) and p and _token_ids(p) for p in prompt):
            return prompt
    raise InvalidField("prompt", "must be a string, a non-empty list of strings, a non-empty list of token ids "
                                 "(whole numbers >= 0) or a list of such lists")


def _token_ids(values: list[Any]) -> bool:
    return all(type(v) is int and v >= 0 for v in values)


def _request(body: dict[str, Any], *, max_tokens: int | None, logprobs: bool, top_logprobs: int,
             **what: Any) -> GenerateRequest:
    stream = body.get("stream", False) or False
    if not isinstance(stream, bool):
        raise InvalidField("stream", f"must be true or false, got {stream!r}")
    options = body.get("stream_options") or {}
    if not isinstance(options, dict):
        raise InvalidField("stream_options", "must be an object such as {\"include_usage\": true}")
    n = body.get("n", 1)
    if n is None:
        n = 1
    if type(n) is not int or not 1 <= n <= MAX_N:
        raise InvalidField("n", f"must be a whole number from 1 to {MAX_N}, got {n!r}")
    return GenerateRequest(required_model(body), sampling_from(body, max_tokens, logprobs, top_logprobs), n=n,
                           stream=stream, include_usage=bool(options.get("include_usage")), logprobs=logprobs,
                           **what)


def sampling_from(fields: dict[str, Any], max_tokens: int | None, logprobs: bool = False,
                  top_logprobs: int = 0) -> Sampling:
    """``temperature``, ``top_p``, ``seed`` and ``stop`` of a request (or of OIP ``parameters``)."""
    sampling = Sampling(max_tokens=max_tokens, temperature=_number(fields, "temperature", 1.0, 0.0, 2.0),
                        top_p=_number(fields, "top_p", 1.0, 0.0, 1.0), seed=_seed(fields), stop=_stops(fields),
                        logprobs=logprobs, top_logprobs=top_logprobs)
    if sampling.top_p == 0:
        raise InvalidField("top_p", "must be greater than 0 (use temperature 0 for greedy decoding)")
    return sampling


def max_tokens_of(fields: dict[str, Any], name: str, default: int | None) -> int | None:
    """A ``max_tokens``-like field: a whole number >= 1, or ``default`` when absent."""
    value = fields.get(name)
    if value is None:
        return default
    if type(value) is not int or value < 1:
        raise InvalidField(name, f"must be a whole number >= 1, got {value!r}")
    return value


def _message(index: int, message: Any) -> dict[str, Any]:
    where = f"messages[{index}]"
    if not isinstance(message, dict) or message.get("role") not in ROLES:
        raise InvalidField(where, f"must be an object with a role ({', '.join(ROLES)}) and content")
    content = message.get("content")
    if isinstance(content, list):  # content parts: only text ones are understood
        if not all(isinstance(p, dict) and p.get("type") == "text" and isinstance(p.get("text"), str) for p in content):
            raise InvalidField(f"{where}.content", "only text parts ({\"type\": \"text\", \"text\": ...}) are accepted")
        content = "".join(p["text"] for p in content)
    if not isinstance(content, str):
        raise InvalidField(f"{where}.content", "must be a string or a list of text parts")
    return {"role": message["role"], "content": content}


def _number(body: dict[str, Any], name: str, default: float, low: float, high: float) -> float:
    value = body.get(name)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
            or not low <= value <= high:
        raise InvalidField(name, f"must be a number from {low:g} to {high:g}, got {value!r}")
    return float(value)


def _seed(body: dict[str, Any]) -> int | None:
    seed = body.get("seed")
    if seed is not None and type(seed) is not int:
        raise InvalidField("seed", f"must be a whole number, got {seed!r}")
    return seed


def _stops(body: dict[str, Any]) -> tuple[str, ...]:
    stop = body.get("stop")
    stops = [] if stop is None else [stop] if isinstance(stop, str) else stop
    if not isinstance(stops, list) or len(stops) > MAX_STOPS or not all(isinstance(s, str) and s for s in stops):
        raise InvalidField("stop", f"must be a non-empty string or a list of up to {MAX_STOPS} of them")
    return tuple(stops)


def usage(prompt_tokens: int, completion_tokens: int) -> dict[str, int]:
    return {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens}


def completion(request_id: str, model: str, created: int, choices: list[Choice], used: dict[str, int]) -> dict[str, Any]:
    """The whole ``text_completion`` answer."""
    return {"id": request_id, "object": "text_completion", "created": created, "model": model,
            "choices": [{"index": c.index, "text": c.text, "finish_reason": c.finish_reason,
                         "logprobs": _completion_logprobs(c) if c.tokens else None} for c in choices],
            "usage": used}


def chat_completion(request_id: str, model: str, created: int, choices: list[Choice], used: dict[str, int]) -> dict[str, Any]:
    """The whole ``chat.completion`` answer."""
    return {"id": request_id, "object": "chat.completion", "created": created, "model": model,
            "choices": [{"index": c.index, "message": {"role": "assistant", "content": c.text},
                         "finish_reason": c.finish_reason,
                         "logprobs": _chat_logprobs(c) if c.tokens else None} for c in choices],
            "usage": used}


def completion_chunk(request_id: str, model: str, created: int, choice: Choice) -> dict[str, Any]:
    """One ``text_completion`` stream chunk: ``choice`` holds the new text only."""
    return {"id": request_id, "object": "text_completion", "created": created, "model": model,
            "choices": [{"index": choice.index, "text": choice.text, "finish_reason": choice.finish_reason,
                         "logprobs": _completion_logprobs(choice) if choice.tokens else None}]}


def chat_chunk(request_id: str, model: str, created: int, choice: Choice, first: bool = False) -> dict[str, Any]:
    """One ``chat.completion.chunk``: the assistant role on a choice's first, its new text after."""
    delta: dict[str, Any] = {"role": "assistant", "content": choice.text} if first else {"content": choice.text}
    if choice.finish_reason is not None and not choice.text and not first:
        delta = {}
    return {"id": request_id, "object": "chat.completion.chunk", "created": created, "model": model,
            "choices": [{"index": choice.index, "delta": delta, "finish_reason": choice.finish_reason,
                         "logprobs": _chat_logprobs(choice) if choice.tokens else None}]}


def usage_chunk(request_id: str, model: str, created: int, chat: bool, used: dict[str, int]) -> dict[str, Any]:
    """The last chunk of a stream asked for ``stream_options.include_usage``: no choices, the usage."""
    kind = "chat.completion.chunk" if chat else "text_completion"
    return {"id": request_id, "object": kind, "created": created, "model": model, "choices": [], "usage": used}


def _completion_logprobs(choice: Choice) -> dict[str, Any]:
    offsets, at = [], 0
    for token in choice.tokens:
        offsets.append(at)
        at += len(token)
    top = [_by_text(likeliest) for likeliest in choice.top] if any(choice.top) else None
    return {"tokens": choice.tokens, "token_logprobs": choice.logprobs, "top_logprobs": top, "text_offset": offsets}


def _by_text(likeliest: tuple[tuple[str, float], ...]) -> dict[str, float]:
    """Completions' ``{text: logprob}`` of a position's likeliest tokens; tokens of one text
    (the halves of a character, say) count as the likeliest of them."""
    found: dict[str, float] = {}
    for text, logprob in likeliest:
        found.setdefault(text, logprob)
    return found


def _chat_logprobs(choice: Choice) -> dict[str, Any]:
    return {"content": [{**_chat_token(t, lp), "top_logprobs": [_chat_token(*alt) for alt in top]}
                        for t, lp, top in zip(choice.tokens, choice.logprobs, choice.top)]}


def _chat_token(token: str, logprob: float | None) -> dict[str, Any]:
    return {"token": token, "logprob": logprob, "bytes": list(token.encode())}
