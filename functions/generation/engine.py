"""Continuous batching: an iteration-level scheduler, as vLLM and TGI schedule.

One engine thread runs the model. Before each decoding step it admits waiting sequences (up to
``max_running`` in all): they are prefilled together, which gives each its first token, and join
the running batch (those that came in meanwhile are prefilled next, up to ``PREFILLS_IN_A_ROW``
prefills in a row); then one decoding step runs every running sequence at once, and a sequence
that has finished (end of sequence, ``max_tokens``, the model's length, its consumer gone) leaves
the batch there. More than ``max_queued`` waiting sequences are refused (``Overloaded``: 429 with
``Retry-After``). The thread starts on the first request of its process (never in a gunicorn
master before fork): on CPU a process of its own, forked by the worker
(``functions.generation.process``), so that the model's steps and the event loop that sends the
tokens do not take turns at one GIL; on CUDA a thread of the worker. There the process's switch
interval is lowered to 0.5 ms, the thread lets go of the GIL after each step, and a step's tokens
wake each loop with one call, so a token's chunk does not wait for the loop to run, nor a new
request to be taken in.
"""
from __future__ import annotations

import asyncio
import logging
import os
import sys
import threading
import time
from collections import deque
from time import perf_counter
from typing import Any, Protocol

from ..errors import Overloaded
from .types import Sampling, Token

log = logging.getLogger("kfunc")
END = object()  # what a stream holds once its sequence has ended
PREFILLS_IN_A_ROW = 4  # prefill steps before a decoding step, while requests keep arriving (a burst)
SWITCH_INTERVAL_S = 0.0005  # the GIL switch interval of a process running an engine (Python's default: 5 ms)


class Sequence:
    """One request's sequence: its tokens so far, how to sample, where its tokens go, and the
    model's state for it (its KV cache)."""

    __slots__ = ("ids", "prompt_length", "sampling", "stream", "state", "rng", "cancelled")

    def __init__(self, ids: list[int], sampling: Sampling, stream: "TokenStream") -> None:
        self.ids = list(ids)
        self.prompt_length = len(ids)
        self.sampling = sampling
        self.stream = stream
        self.state: Any = None
        self.rng: Any = None  # the model side's random generator for it, when it samples
        self.cancelled = False

    @property
    def produced(self) -> int:
        return len(self.ids) - self.prompt_length


class Stepper(Protocol):
    """The model side of the engine (``functions.generation.causal_lm``)."""

    def prefill(self, sequences: list[Sequence]) -> Any: ...  # logits [J, V] of their next tokens; sets .state
    def decode(self, sequences: list[Sequence]) -> Any: ...  # logits [B, V], each sequence's state advanced
    def pick(self, logits: Any, sequences: list[Sequence]) -> list[Token]: ...  # each one's next (id, logprobs)
    def is_end(self, token_id: int) -> bool: ...  # an end-of-sequence token
    max_length: int  # the longest sequence (prompt and generated tokens) the model takes


class Canceller(Protocol):
    """What a ``TokenStream`` tells when it is closed (an ``Engine`` or a ``ProcessEngine``)."""

    def cancel(self, stream: "TokenStream") -> None: ...


Waiter = tuple[asyncio.AbstractEventLoop, asyncio.Event]  # an async consumer waiting for its next item


class TokenStream:
    """A sequence's tokens as they are produced: iterate it (``for`` or ``async for``); closing
    it (or breaking out of ``async for`` and closing) cancels the sequence."""

    def __init__(self, engine: Canceller) -> None:
        self._engine = engine
        self._items: deque[Any] = deque()
        self._ready = threading.Condition()
        self._waiter: Waiter | None = None
        self.sequence: Sequence | None = None
        self.first_at: float | None = None  # perf_counter() when the first token was produced

    def push(self, item: Any, produced_at: float | None = None) -> Waiter | None:
        """From the engine thread: a ``Token``, an exception, or the end (produced at
        ``produced_at``, a ``perf_counter()``; else now). A sync consumer is woken here; an
        async one's (loop, event) is returned, for the engine to set with the others'."""
        if self.first_at is None:
            self.first_at = produced_at if produced_at is not None else perf_counter()
        with self._ready:
            self._items.append(item)
            waiter, self._waiter = self._waiter, None
            self._ready.notify()
        return waiter

    def __iter__(self) -> "TokenStream":
        return self

    def __next__(self) -> Token:
        with self._ready:
            while not self._items:
                self._ready.wait()
            item = self._items.popleft()
        return self._unwrap(item, StopIteration)

    def __aiter__(self) -> "TokenStream":
        return self

    async def __anext__(self) -> Token:
        while True:
            with self._ready:
                if self._items:
                    item = self._items.popleft()
                    break
                event = asyncio.Event()
                self._waiter = (asyncio.get_running_loop(), event)
            await event.wait()
        return self._unwrap(item, StopAsyncIteration)

    def _unwrap(self, item: Any, end: type[Exception]) -> Token:
        if item is END:
            self._items.append(END)  # stays ended
            raise end
        if isinstance(item, BaseException):
            raise item
        return item

    def close(self) -> None:
        """Stop the sequence: the engine drops it before its next step."""
        self._engine.cancel(self)

    async def aclose(self) -> None:
        self.close()


def _set_all(events: list[asyncio.Event]) -> None:
    for event in events:
        event.set()


Woken = dict[asyncio.AbstractEventLoop, list[asyncio.Event]]


def note(woken: Woken, waiter: Waiter | None) -> None:
    """Keep a ``TokenStream.push``'s waiter, to be woken with the others of its step."""
    if waiter is not None:
        woken.setdefault(waiter[0], []).append(waiter[1])


def wake(woken: Woken) -> None:
    """Wake the async consumers of a step's tokens: one call into each event loop."""
    for loop, events in woken.items():
        loop.call_soon_threadsafe(_set_all, events)


class Engine:
    """The scheduler over a ``Stepper``; ``submit`` is called from any thread."""

    def __init__(self, model: Stepper, max_running: int = 16, max_queued: int = 64) -> None:
        if max_running < 1 or max_queued < 0:
            raise ValueError(f"max_running must be >= 1 and max_queued >= 0, got {max_running}, {max_queued}")
        self.model = model
        self.max_running = max_running
        self.max_queued = max_queued
        self._lock = threading.Condition()
        self._waiting: deque[Sequence] = deque()
        self._running: list[Sequence] = []
        self._pid: int | None = None
        self._woken: Woken = {}  # of this step

    def submit(self, ids: list[int], sampling: Sampling, stream: Any = None) -> TokenStream:
        """Queue a sequence; its tokens come on the returned stream (or ``stream``: anything with
        ``push``). ``Overloaded`` when full."""
        stream = stream if stream is not None else TokenStream(self)
        with self._lock:
            if len(self._running) + len(self._waiting) >= self.max_running + self.max_queued:
                raise Overloaded(f"{len(self._running)} sequences are generating and {len(self._waiting)} wait "
                                 "(the most this server takes); retry shortly")
            stream.sequence = Sequence(ids, sampling, stream)
            self._waiting.append(stream.sequence)
            self._start_thread()
            self._lock.notify()
        return stream

    def cancel(self, stream: TokenStream) -> None:
        """Stop ``stream``'s sequence before the next step."""
        if stream.sequence is not None:
            stream.sequence.cancelled = True
            with self._lock:
                self._lock.notify()

    def _start_thread(self) -> None:
        if self._pid != os.getpid():  # first request of this process (a forked worker starts afresh)
            self._pid = os.getpid()
            self._running = []
            sys.setswitchinterval(min(sys.getswitchinterval(), SWITCH_INTERVAL_S))
            threading.Thread(target=self._loop, name="kfunc-generation", daemon=True).start()

    def _loop(self) -> None:
        prefills = 0  # in a row
        while True:
            joining = self._admit()
            if joining:
                self._step(joining, prefill=True)
                prefills += 1
                if prefills < PREFILLS_IN_A_ROW and self._may_admit():
                    continue  # more came during the prefill: theirs first, then one decoding step for all
            prefills = 0
            ready = [s for s in self._running if s.state is not None and not s.cancelled]
            if ready:
                self._step(ready, prefill=False)
            time.sleep(0)  # the GIL to the event loop: it sends the tokens and takes in new requests
            self._running = [s for s in self._running if s.state is not None and not s.cancelled]

    def _may_admit(self) -> bool:
        """Sequences wait, and the batch has room for them."""
        with self._lock:
            return bool(self._waiting) and len(self._running) < self.max_running

    def _admit(self) -> list[Sequence]:
        """Wait for work; move waiting sequences into the batch while it has room."""
        with self._lock:
            for sequence in self._running:
                if sequence.cancelled:
                    sequence.state = None
            self._running = [s for s in self._running if not s.cancelled]
            while not self._running and not self._waiting:
                self._lock.wait()
            joining = []
            while self._waiting and len(self._running) < self.max_running:
                sequence = self._waiting.popleft()
                if not sequence.cancelled:
                    self._running.append(sequence)
                    joining.append(sequence)
            return joining

    def _step(self, sequences: list[Sequence], prefill: bool) -> None:
        """One prefill or one decoding step; each sequence gets its next token or finishes."""
        try:
            logits = self.model.prefill(sequences) if prefill else self.model.decode(sequences)
            for sequence, token in zip(sequences, self.model.pick(logits, sequences)):
                self._emit(sequence, token)
        except Exception as exc:  # the model failed: these sequences end with the error
            log.error("generation step failed: %s: %s", type(exc).__name__, exc, exc_info=exc)
            for sequence in sequences:
                sequence.state = None
                self._push(sequence, exc)
        self._wake()

    def _emit(self, sequence: Sequence, token: Token) -> None:
        if self.model.is_end(token.id):
            self._end(sequence)
            return
        sequence.ids.append(token.id)
        self._push(sequence, token)
        limit = sequence.sampling.max_tokens
        if (limit is not None and sequence.produced >= limit) or len(sequence.ids) >= self.model.max_length:
            self._end(sequence)

    def _end(self, sequence: Sequence) -> None:
        sequence.state = None  # frees its KV cache
        self._push(sequence, END)

    def _push(self, sequence: Sequence, item: Any) -> None:
        note(self._woken, sequence.stream.push(item))

    def _wake(self) -> None:
        """The step's tokens are all pushed: wake their consumers."""
        wake(self._woken)
        self._woken = {}
