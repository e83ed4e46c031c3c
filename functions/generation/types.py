"""The values a generator handler works with; plain data, no torch."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Sampling:
    """How to pick the next tokens (the request's ``max_tokens``, ``temperature``, ``top_p``,
    ``seed``, ``stop``, ``logprobs``, and ``top_logprobs``: how many of the likeliest tokens to
    report at each position); ``temperature == 0`` is greedy decoding."""

    max_tokens: int | None = 16
    temperature: float = 1.0
    top_p: float = 1.0
    seed: int | None = None
    stop: tuple[str, ...] = ()
    logprobs: bool = False
    top_logprobs: int = 0

    @property
    def greedy(self) -> bool:
        return self.temperature == 0


@dataclass(frozen=True)
class Prompt:
    """What to continue: the text (a chat request's after its chat template), its token ids when
    the function has a tokenizer, and the chat ``messages`` it came from (None for completions)."""

    text: str
    token_ids: list[int] = field(default_factory=list)
    messages: list[dict[str, Any]] | None = None


@dataclass(frozen=True)
class Token:
    """One generated token: its id, its text (else the tokenizer decodes the id) and, when the
    model gives them, its log-probability and the likeliest tokens at its position (``top``:
    ``(id or text, log-probability)`` pairs, likeliest first)."""

    id: int | None = None
    text: str | None = None
    logprob: float | None = None
    top: tuple[tuple[int | str, float], ...] = ()
