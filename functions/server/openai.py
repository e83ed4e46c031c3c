"""The OpenAI routes of a generating function: ``/openai/v1/completions``, ``/chat/completions``
(whole answers, or Server-Sent Events ending ``data: [DONE]``), ``/models``; errors in OpenAI's
shape. Generation waits for its tokens on the event loop, not on a handler thread."""
from __future__ import annotations

from typing import Any, AsyncIterator

from ..errors import ModelNotFound, ModelNotReady, Overloaded
from ..function import Function
from ..generation.types import Prompt
from ..protocol import openai
from ..protocol.jsonutil import dumps, loads
from ..protocol.openai_generate import (Choice, GenerateRequest, chat_chunk, chat_completion, completion,
                                        completion_chunk, decode_chat, decode_completion, usage, usage_chunk)
from .exchange import Exchange, Reply, json_reply
from .generation import Generation, merged, prompt_for, start
from .models import served_model
from .streaming import stream_reply

_CREATED = openai.now()  # when this server started: the models' ``created``


def error_shape(status: int, message: str, exc: Exception) -> dict:
    """An error answer of every path under ``/openai/``, in OpenAI's shape (``code`` says what
    kind of 404, 429 or 503 it is; an unknown path or method has none, as OpenAI's own)."""
    code = next((code for kind, code in _CODES if isinstance(exc, kind)), None)
    return openai.error_body(status, message, exc.param if isinstance(exc, openai.InvalidField) else None, code)


_CODES = ((ModelNotFound, "model_not_found"), (Overloaded, "rate_limit_exceeded"), (ModelNotReady, "model_not_ready"))


def list_models(exchange: Exchange, function: Function) -> Reply:
    return json_reply(openai.model_list([function.name], _CREATED))


def model(exchange: Exchange, function: Function, name: str) -> Reply:
    served_model(function, name)
    return json_reply(openai.model_list([function.name], _CREATED)["data"][0])


def completions(exchange: Exchange, function: Function) -> Reply:
    """``POST /openai/v1/completions``: each prompt continued ``n`` times."""
    request = decode_completion(loads(exchange.body()))
    served_model(function, request.model)
    function.check_ready()
    return _answer(exchange, function, request, [_prompt(function, p) for p in request.prompts], chat=False)


def chat_completions(exchange: Exchange, function: Function) -> Reply:
    """``POST /openai/v1/chat/completions``: the messages through the tokenizer's chat template."""
    request = decode_chat(loads(exchange.body()))
    served_model(function, request.model)
    function.check_ready()
    return _answer(exchange, function, request, [prompt_for(function, "", request.messages)], chat=True)


def _prompt(function: Function, prompt: str | list[int]) -> Prompt:
    """A completion's prompt: its text, or its token ids, each checked against the tokenizer's
    vocabulary (the prompt's text decoded from them)."""
    if isinstance(prompt, str):
        return prompt_for(function, prompt)
    tokenizer = function.tokenizer()
    if tokenizer is None:
        raise openai.InvalidField("prompt", f"model {function.name} has no tokenizer to read token ids with; "
                                            "send the text")
    size = len(tokenizer)
    wrong = next((i for i in prompt if i >= size), None)
    if wrong is not None:
        raise openai.InvalidField("prompt", f"token id {wrong} is not in the vocabulary of model {function.name} "
                                            f"(ids 0 to {size - 1})")
    return Prompt(tokenizer.decode(prompt), list(prompt))


class _Answer:
    """What every chunk or answer of one request repeats, and its choices."""

    def __init__(self, exchange: Exchange, request: GenerateRequest, prompt_tokens: int, chat: bool) -> None:
        self.id = ("chatcmpl-" if chat else "cmpl-") + exchange.request_id
        self.request = request
        self.created = openai.now()
        self.prompt_tokens = prompt_tokens
        self.chat = chat

    def usage(self, generations: list[Generation]) -> dict[str, int]:
        return usage(self.prompt_tokens, sum(g.tokens for g in generations))

    def chunk(self, choice: Choice, first: bool) -> bytes:
        """One stream chunk, as JSON (written once, here)."""
        if self.chat:
            return dumps(chat_chunk(self.id, self.request.model, self.created, choice, first))
        return dumps(completion_chunk(self.id, self.request.model, self.created, choice))


def _answer(exchange: Exchange, function: Function, request: GenerateRequest, prompts: list, chat: bool) -> Reply:
    context = exchange.context("openai", request.model)
    generations: list[Generation] = []
    try:
        for prompt in prompts:
            generations += [start(function, prompt, context, request.sampling, i, exchange.timer.start)
                            for i in range(request.n)]
    except BaseException:
        for generation in generations:
            generation.close()
        raise
    answer = _Answer(exchange, request, sum(len(p.token_ids) for p in prompts), chat)
    if request.stream:
        return stream_reply(_events(answer, generations), event_stream=True)
    return Reply(b"", later=_whole(answer, generations))


async def _whole(answer: _Answer, generations: list[Generation]) -> Reply:
    choices = [Choice(i) for i in range(len(generations))]
    async for index, piece in merged(generations):
        choice = choices[index]
        if piece is None:
            choice.finish_reason = generations[index].finish_reason
            continue
        choice.text += piece.text
        if answer.request.logprobs and piece.token is not None:
            choice.tokens.append(piece.token)
            choice.logprobs.append(piece.logprob)
            choice.top.append(piece.top)
    encode = chat_completion if answer.chat else completion
    return json_reply(encode(answer.id, answer.request.model, answer.created, choices, answer.usage(generations)))


async def _events(answer: _Answer, generations: list[Generation]) -> AsyncIterator[Any]:
    """The stream's chunks: each piece as it comes, each choice's finish, the usage if asked, ``[DONE]``."""
    started: set[int] = set()
    logprobs = answer.request.logprobs
    async for index, piece in merged(generations):
        if piece is None:
            yield answer.chunk(Choice(index, finish_reason=generations[index].finish_reason), index not in started)
            started.add(index)
            continue
        if not piece.text and not (logprobs and piece.token is not None) and index in started:
            continue  # (a choice's first chunk goes at once, even empty: the client sees it has begun)
        choice = Choice(index, piece.text)
        if logprobs and piece.token is not None:
            choice.tokens, choice.logprobs, choice.top = [piece.token], [piece.logprob], [piece.top]
        yield answer.chunk(choice, index not in started)
        started.add(index)
        generations[index].sent()
    if answer.request.include_usage:
        yield usage_chunk(answer.id, answer.request.model, answer.created, answer.chat, answer.usage(generations))
    yield "[DONE]"
