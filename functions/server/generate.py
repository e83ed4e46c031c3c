"""OIP ``POST /v2/models/<m>/generate`` (one answer) and ``/generate_stream`` (Server-Sent Events,
one chunk a piece of text) for a function with a ``@generator``."""
from __future__ import annotations

from typing import Any, AsyncIterator

from ..function import Function
from ..protocol.generate import decode_generate, encode_output
from ..protocol.jsonutil import loads
from .exchange import Exchange, Reply, json_reply
from .generation import Generation, prompt_for, start
from .models import served_model
from .streaming import stream_reply


def generate(exchange: Exchange, function: Function, name: str) -> Reply:
    generation = _start(exchange, function, name)
    return Reply(b"", later=_whole(function, generation))


def generate_stream(exchange: Exchange, function: Function, name: str) -> Reply:
    generation = _start(exchange, function, name)
    return stream_reply(_pieces(function, generation), event_stream=True)


def _start(exchange: Exchange, function: Function, name: str) -> Generation:
    served_model(function, name)
    function.check_ready()
    request = decode_generate(loads(exchange.body()))
    context = exchange.context("v2", name)
    return start(function, prompt_for(function, request.text), context, request.sampling, 0, exchange.timer.start)


async def _whole(function: Function, generation: Generation) -> Reply:
    text = "".join([piece.text async for piece in generation.pieces()])
    return json_reply(encode_output(function.name, function.version, text, finish_reason=generation.finish_reason))


async def _pieces(function: Function, generation: Generation) -> AsyncIterator[Any]:
    async for piece in generation.pieces():
        if piece.text:
            yield encode_output(function.name, function.version, piece.text)
            generation.sent()
    yield encode_output(function.name, function.version, "", finish_reason=generation.finish_reason)
