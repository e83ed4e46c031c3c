"""Streams: tokens from a sync generator (``/``), or from an async one (``mode: async``); a slow
stream (``mode: slow``, or ``slow-async`` from an async generator) notes in ``closed_marker`` that
its generator was stopped (a client that left)."""
import asyncio
import os
import time

from functions import predictor


def _tokens(count):
    for i in range(count):
        yield {"token": f"t{i}"}


async def _async_tokens(count):
    for i in range(count):
        await asyncio.sleep(0)
        yield {"token": f"a{i}"}


def _slow(marker):
    try:
        for i in range(10_000):
            time.sleep(0.01)
            yield {"token": i}
    finally:
        with open(marker, "w") as out:
            out.write("closed")


async def _slow_async(marker):
    try:
        for i in range(10_000):
            await asyncio.sleep(0.01)
            yield {"token": i}
    finally:
        with open(marker, "w") as out:
            out.write("closed")


@predictor
def predict(data):
    if not isinstance(data, dict):  # V1 instances (an array): a token each
        return _tokens(len(data))
    if data.get("mode") == "slow":
        return _slow(data["closed_marker"])
    if data.get("mode") == "slow-async":
        return _slow_async(data["closed_marker"])
    if data.get("mode") == "fail":
        return _failing()
    if data.get("mode") == "async":
        return _async_tokens(data["count"])
    return _tokens(data["count"])


def _failing():
    yield {"token": "first"}
    raise RuntimeError("the model broke mid-stream")
