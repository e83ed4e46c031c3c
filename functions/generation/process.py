"""The engine in a process of its own, so its model steps and the server's event loop do not
share one GIL (vLLM's engine core runs apart for the same reason).

``ProcessEngine.submit`` forks the serving process on its first call (and after the engine
process died): the child runs the usual ``Engine`` over the same model, its weights shared
copy-on-write. The serving process never runs the model itself, so no torch thread pool exists
when it forks. Over a pipe the worker sends ``(seq_id, ids, sampling)`` to submit and
``(seq_id,)`` to cancel; the child answers once per step with every ``(seq_id, item)`` of
it: a ``Token``, ``None`` at the end, or an error's text, with the time it was sent (so a
stream's first token is timed from the child, its transit counted). A thread of the worker
reads the steps and pushes them into the ``TokenStream``s, waking each event loop once per step.

The bounds (``max_running`` + ``max_queued``) are counted in the worker, so ``Overloaded`` is
raised by ``submit`` as before. If the child dies, every open stream ends with
``GenerationFailed``; the next ``submit`` forks a new one. The child ignores SIGINT and SIGTERM
(the worker drains its requests, then exits) and exits when its pipe reaches end of file.
"""
from __future__ import annotations

import logging
import os
import pickle
import signal
import sys
import threading
import time
from multiprocessing.connection import Connection, Pipe
from time import perf_counter
from typing import Any

from ..errors import GenerationFailed, Overloaded
from .engine import END, SWITCH_INTERVAL_S, Engine, Sequence, Stepper, TokenStream, Woken, note, wake
from .types import Sampling

log = logging.getLogger("kfunc")


class ProcessEngine:
    """An ``Engine`` over ``model`` in a forked child; the same ``submit`` and ``cancel``."""

    def __init__(self, model: Stepper, max_running: int = 16, max_queued: int = 64) -> None:
        self._engine = _ChildEngine(model, max_running, max_queued)  # checks the bounds; runs in the child
        self.max_running, self.max_queued = max_running, max_queued
        self._lock = threading.Lock()
        self._conn: Connection | None = None
        self._pid: int | None = None  # the serving process that forked the child
        self._streams: dict[int, TokenStream] = {}
        self._ids: dict[TokenStream, int] = {}
        self._next_id = 0

    def submit(self, ids: list[int], sampling: Sampling) -> TokenStream:
        """Queue a sequence in the engine process; ``Overloaded`` when full."""
        stream = TokenStream(self)
        with self._lock:
            if len(self._streams) >= self.max_running + self.max_queued:
                raise Overloaded(f"{len(self._streams)} sequences are generating or waiting "
                                 "(the most this server takes); retry shortly")
            if self._conn is None or self._pid != os.getpid():
                self._start()
            self._next_id += 1
            self._streams[self._next_id] = stream
            self._ids[stream] = self._next_id
            self._send((self._next_id, ids, sampling))
        return stream

    def cancel(self, stream: TokenStream) -> None:
        """Stop ``stream``'s sequence; its place is free at once."""
        with self._lock:
            seq_id = self._ids.pop(stream, None)
            if seq_id is not None:
                del self._streams[seq_id]
                self._send((seq_id,))

    def _send(self, message: tuple) -> None:
        try:
            self._conn.send_bytes(pickle.dumps(message))  # type: ignore[union-attr]
        except OSError:  # the child is gone: the reader ends its streams
            pass

    def _start(self) -> None:
        """Fork the engine process, and the thread that reads its steps (the lock is held)."""
        self._pid, self._streams, self._ids = os.getpid(), {}, {}
        mine, theirs = Pipe()
        pid = os.fork()
        if pid == 0:
            mine.close()
            _child(self._engine, theirs)  # never returns
        theirs.close()
        self._conn = mine
        sys.setswitchinterval(min(sys.getswitchinterval(), SWITCH_INTERVAL_S))  # the reader takes the GIL soon
        threading.Thread(target=self._read, args=(mine, pid), name="kfunc-generation-reader", daemon=True).start()
        log.info("generation engine process %d started", pid)

    def _read(self, conn: Connection, pid: int) -> None:
        """Push each step's items into their streams, until the child's end of the pipe closes."""
        try:
            while True:
                produced_at, step = pickle.loads(conn.recv_bytes())
                self._deliver(step, perf_counter() - (time.clock_gettime(time.CLOCK_MONOTONIC) - produced_at))
        except (EOFError, OSError):
            pass
        _, status = os.waitpid(pid, 0)
        error = GenerationFailed(f"the generation engine process {pid} exited ({_describe(status)}); "
                                 "the next request starts a new one")
        log.error("%s", error)
        with self._lock:
            if self._conn is conn:
                self._conn = None
                streams, self._streams, self._ids = self._streams, {}, {}
            else:
                streams = {}
        conn.close()
        woken: Woken = {}
        for stream in streams.values():
            note(woken, stream.push(error))
        wake(woken)

    def _deliver(self, step: list[tuple[int, Any]], produced_at: float) -> None:
        """A step's items into their streams (``produced_at``: when the child sent it, as a
        ``perf_counter()`` of this process)."""
        woken: Woken = {}
        for seq_id, item in step:
            if item is None or isinstance(item, str):  # its end
                with self._lock:
                    stream = self._streams.pop(seq_id, None)
                    self._ids.pop(stream, None)
                item = END if item is None else GenerationFailed(item)
            else:
                stream = self._streams.get(seq_id)
            if stream is not None:
                note(woken, stream.push(item, produced_at))
        wake(woken)


class _Outbox:
    """In the child: a sequence's stream, whose items go into the step's message."""

    __slots__ = ("seq_id", "engine", "sequence")

    def __init__(self, seq_id: int, engine: "_ChildEngine") -> None:
        self.seq_id, self.engine = seq_id, engine
        self.sequence: Sequence | None = None

    def push(self, item: Any) -> None:
        if item is END or isinstance(item, BaseException):
            self.engine.sequences.pop(self.seq_id, None)
            item = None if item is END else f"generation failed: {type(item).__name__}: {item}"
        self.engine.step.append((self.seq_id, item))


class _ChildEngine(Engine):
    """The engine of the child: each step's items go to the worker in one message."""

    def __init__(self, model: Stepper, max_running: int, max_queued: int) -> None:
        super().__init__(model, max_running, max_queued)
        self.max_queued = sys.maxsize  # the worker counts them
        self.conn: Connection | None = None
        self.step: list[tuple[int, Any]] = []
        self.sequences: dict[int, _Outbox] = {}  # by the worker's ids, until they end

    def _wake(self) -> None:
        step, self.step = self.step, []
        try:
            sent_at = time.clock_gettime(time.CLOCK_MONOTONIC)  # system-wide: the worker tells the transit
            self.conn.send_bytes(pickle.dumps((sent_at, step)))  # type: ignore[union-attr]
        except OSError:  # the worker is gone
            os._exit(0)


def _child(engine: _ChildEngine, conn: Connection) -> None:
    """The engine process: take submits and cancels until the worker's end of the pipe closes."""
    try:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        fd = conn.fileno()  # inherited descriptors (the worker's listening socket) closed, but stdio
        os.closerange(3, fd)
        os.closerange(fd + 1, os.sysconf("SC_OPEN_MAX"))
        engine.conn = conn
        while True:
            message = pickle.loads(conn.recv_bytes())
            if len(message) == 1:
                outbox = engine.sequences.pop(message[0], None)
                if outbox is not None:
                    engine.cancel(outbox)  # type: ignore[arg-type]
                continue
            seq_id, ids, sampling = message
            engine.sequences[seq_id] = outbox = _Outbox(seq_id, engine)
            engine.submit(ids, sampling, outbox)
    except EOFError:
        pass
    except BaseException as exc:
        log.error("the generation engine process failed: %s: %s", type(exc).__name__, exc, exc_info=exc)
    finally:
        os._exit(0)


def _describe(status: int) -> str:
    code = os.waitstatus_to_exitcode(status)
    return f"killed by signal {-code}" if code < 0 else f"exit status {code}"
