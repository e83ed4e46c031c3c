"""Token ids of text, and text of token ids, with a handler's tokenizer (the server's own copy,
``Function.tokenizer``).

A transformers fast tokenizer wraps a ``tokenizers.Tokenizer`` (its ``backend_tokenizer``); each
call through the wrapper costs tens of microseconds of Python besides the encoding itself, paid on
every request that counts or encodes a prompt. Once the backend pads and truncates nothing (the
wrapper turns both off at its first call that asks for neither), the backend is called directly;
any other tokenizer is called as transformers documents it.
"""
from __future__ import annotations

from typing import Any, Callable


def encode(tokenizer: Any, text: str, special_tokens: bool = True) -> list[int]:
    """``text``'s token ids (with the tokenizer's special tokens unless ``special_tokens`` is False)."""
    backend = _plain_backend(tokenizer)
    if backend is not None:
        return backend.encode(text, add_special_tokens=special_tokens).ids
    return tokenizer(text, add_special_tokens=special_tokens)["input_ids"]


def count(tokenizer: Any, texts: list[str]) -> int:
    """How many tokens ``texts`` have in all, special tokens included."""
    return sum(len(encode(tokenizer, text)) for text in texts)


def decoder(tokenizer: Any) -> Callable[[list[int]], str]:
    """``ids -> text``, special tokens skipped: the backend's own decode when transformers would
    add nothing to it (no clean-up of tokenization spaces), else the tokenizer's ``decode``."""
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is not None and not getattr(tokenizer, "clean_up_tokenization_spaces", False):
        return lambda ids: backend.decode(ids, skip_special_tokens=True)
    return lambda ids: tokenizer.decode(ids, skip_special_tokens=True)


def _plain_backend(tokenizer: Any) -> Any:
    """The fast tokenizer's backend when it neither pads nor truncates, else None."""
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is None or backend.padding is not None or backend.truncation is not None:
        return None
    return backend
