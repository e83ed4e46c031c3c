"""One generated choice, protocol-neutral: the ``@generator``'s tokens (ids, text or ``Token``s,
from a sync or async iterator) as text pieces, cut at a ``stop`` string or ``max_tokens``, with
the reason it finished. Closing it closes the generator, so no further token is computed."""
from __future__ import annotations

import asyncio
from dataclasses import dataclass, replace
from time import perf_counter
from typing import Any, AsyncIterator

from .. import metrics, tokenizing
from ..context import Context
from ..errors import InvalidInput
from ..function import Function
from ..generation.engine import TokenStream
from ..generation.types import Prompt, Sampling, Token
from .streaming import DONE, close_later, next_item


@dataclass(frozen=True)
class Piece:
    """New text of a choice, with the token it came from (its text, log-probability and the
    likeliest tokens' texts and log-probabilities; None for the text held back until the end)."""

    text: str
    token: str | None
    logprob: float | None
    top: tuple[tuple[str, float], ...] = ()


class Detokenizer:
    """Token ids -> the text they add, held back while the last bytes are an unfinished character
    (the prefix-window method of TGI and vLLM: decoding ids one by one would lose spaces)."""

    def __init__(self, tokenizer: Any) -> None:
        self.decode = tokenizing.decoder(tokenizer)
        self.ids: list[int] = []
        self.prefix = self.read = 0

    def add(self, token_id: int) -> str:
        self.ids.append(token_id)
        before, after = self.decode(self.ids[self.prefix:self.read]), self.decode(self.ids[self.prefix:])
        if len(after) <= len(before) or after.endswith("\ufffd"):
            return ""
        self.prefix, self.read = self.read, len(self.ids)
        return after[len(before):]

    def flush(self) -> str:
        """The text still held back, at the end (an unfinished character shows as U+FFFD)."""
        before, after = self.decode(self.ids[self.prefix:self.read]), self.decode(self.ids[self.prefix:])
        self.prefix = self.read = len(self.ids)
        return after[len(before):]


class Generation:
    """One choice of one request, iterated with ``pieces()``."""

    def __init__(self, source: Any, tokenizer: Any, sampling: Sampling, started: float) -> None:
        self.started = started  # perf_counter() at the request's start
        self.first_token_at: float | None = None
        self._sent = False
        self.source = source if hasattr(source, "__anext__") or hasattr(source, "__next__") else iter(source)
        self.tokenizer = tokenizer
        self.sampling = sampling
        self.detokenizer = Detokenizer(tokenizer) if tokenizer is not None else None
        self.tokens = 0
        self.finish_reason: str | None = None
        self._held = ""
        self._closed = False

    async def pieces(self) -> AsyncIterator[Piece]:
        """The choice's text, piece by piece; ``finish_reason`` is set once it ends."""
        try:
            while self.finish_reason is None:
                item = await next_item(self.source)
                if item is DONE:
                    last = self._finish("stop")
                    if last:
                        yield Piece(last, None, None)
                    break
                self.tokens += 1
                if self.first_token_at is None:
                    self._first_token()
                token = self._token(item)
                text = self._text(token)
                new = self._cut(text)
                if new or self.sampling.logprobs or self.tokens == 1:  # the first, even if empty: it has begun
                    yield Piece(new, text, token.logprob, self._top(token))
                if self.finish_reason is None and self.sampling.max_tokens is not None \
                        and self.tokens >= self.sampling.max_tokens:
                    last = self._finish("length")
                    if last:
                        yield Piece(last, None, None)
        finally:
            self.close()
            metrics.record_generation(self.tokens)

    def _first_token(self) -> None:
        produced = self.source.first_at if isinstance(self.source, TokenStream) else None
        self.first_token_at = produced or perf_counter()
        metrics.record_generation(first_token_s=self.first_token_at - self.started)

    def sent(self) -> None:
        """Note that a chunk of this choice's text has been written (the first one is measured)."""
        if not self._sent and self.first_token_at is not None:
            self._sent = True
            metrics.record_generation(first_chunk_delay_s=perf_counter() - self.first_token_at)

    def _finish(self, reason: str) -> str:
        """The last text, once the generator ended or reached ``max_tokens``: what the
        detokenizer and the stop check held back (unless a stop string turns up in it)."""
        tail = self._cut(self.detokenizer.flush()) if self.detokenizer is not None else ""
        if self.finish_reason is not None:  # a stop string in the tail
            return tail
        self.finish_reason = reason
        last, self._held = tail + self._held, ""
        return last

    def close(self) -> None:
        """Stop the generator (once)."""
        if not self._closed:
            self._closed = True
            close_later(self.source)

    @staticmethod
    def _token(item: Any) -> Token:
        """What the @generator yielded, as a ``Token``."""
        if isinstance(item, Token):
            return item
        if isinstance(item, str):
            return Token(text=item)
        if type(item) is not int:
            raise TypeError(f"the @generator yielded {item!r}; yield token ids (int), text (str) or functions.Token")
        return Token(id=item)

    def _text(self, token: Token) -> str:
        if token.text is not None:
            return token.text
        if type(token.id) is not int:
            raise TypeError(f"the @generator yielded {token!r}; a Token needs an id (int) or a text")
        if self.detokenizer is None:
            raise TypeError("the @generator yields token ids but has no tokenizer; "
                            "give @generator(tokenizer=lambda model: ...) or yield text")
        return self.detokenizer.add(token.id)

    def _top(self, token: Token) -> tuple[tuple[str, float], ...]:
        """The likeliest tokens at ``token``'s position as texts (ids decoded one by one), as many
        as the request asks."""
        if not (self.sampling.logprobs and self.sampling.top_logprobs and token.top):
            return ()
        top = token.top[:self.sampling.top_logprobs]
        if self.tokenizer is None and any(not isinstance(t, str) for t, _ in top):
            raise TypeError("the @generator's Token.top names token ids but it has no tokenizer; give texts")
        return tuple((t if isinstance(t, str) else self.tokenizer.decode([t]), float(lp)) for t, lp in top)

    def _cut(self, text: str) -> str:
        """The text to emit now: up to the first stop string (which ends the choice), less a tail
        that may be the start of one (held for the next piece)."""
        buffer = self._held + text
        stops = self.sampling.stop
        found = [i for i in (buffer.find(stop) for stop in stops) if i >= 0]
        if found:
            self.finish_reason = "stop"
            self._held = ""
            return buffer[:min(found)]
        keep = max((k for stop in stops for k in range(min(len(stop) - 1, len(buffer)), 0, -1)
                    if buffer.endswith(stop[:k])), default=0)
        self._held = buffer[len(buffer) - keep:]
        return buffer[:len(buffer) - keep]


def prompt_for(function: Function, text: str, messages: list[dict[str, Any]] | None = None) -> Prompt:
    """The ``Prompt`` for a completion's text or a chat's messages (through the tokenizer's chat template)."""
    tokenizer = function.tokenizer()
    if messages is not None:
        if tokenizer is None or not getattr(tokenizer, "chat_template", None):
            raise InvalidInput(f"model {function.name} has no chat template (its tokenizer's chat_template); "
                               "use /openai/v1/completions, or give the tokenizer one")
        text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        return Prompt(text, tokenizing.encode(tokenizer, text, special_tokens=False), messages)
    if tokenizer is None:
        return Prompt(text)
    return Prompt(text, tokenizing.encode(tokenizer, text))


def start(function: Function, prompt: Prompt, context: Context, sampling: Sampling, index: int,
          started: float) -> Generation:
    """Choice ``index`` of a request: the generator called with its own sampling (seed + index)."""
    if sampling.seed is not None and index:
        sampling = replace(sampling, seed=sampling.seed + index)
    context = replace(context, sampling=sampling)
    return Generation(function.generate(prompt, context), function.tokenizer(), sampling, started)


async def merged(generations: list[Generation]) -> AsyncIterator[tuple[int, Piece | None]]:
    """The pieces of several choices as they come, as ``(index, piece)``; ``(index, None)`` once
    choice ``index`` has finished. Leaving early closes them all."""
    if len(generations) == 1:  # no tasks, no queue: the one choice's pieces as they come
        try:
            async for piece in generations[0].pieces():
                yield 0, piece
            yield 0, None
        finally:
            generations[0].close()
        return
    queue: asyncio.Queue = asyncio.Queue()

    async def pump(index: int, generation: Generation) -> None:
        try:
            async for piece in generation.pieces():
                await queue.put((index, piece))
            await queue.put((index, None))
        except Exception as exc:
            await queue.put((index, exc))

    tasks = [asyncio.ensure_future(pump(i, g)) for i, g in enumerate(generations)]
    remaining = len(generations)
    try:
        while remaining:
            index, item = await queue.get()
            if isinstance(item, Exception):
                raise item
            remaining -= item is None
            yield index, item
    finally:
        for task in tasks:
            task.cancel()
        for generation in generations:
            generation.close()
