"""The gunicorn worker: gunicorn 27's asyncio ``asgi`` worker, with a request-head deadline and
a drain that stops accepting at once.

gunicorn's ASGI connection protocol bounds a body that stops arriving (``timeout``) and an idle
kept-alive connection (``keepalive``) but not a request head that never completes, so a client
trickling partial heads would hold its connection for ever. ``HeadDeadlineProtocol`` closes a
connection whose request head is not complete ``head_timeout`` seconds after its first byte
(or after the connection opened), logging it, as nginx's ``client_header_timeout`` does. It
wraps gunicorn's protocol through its public surface only: the asyncio ``Protocol`` methods,
forwarded, and the ``app`` it calls, wrapped to learn when a request is in flight.

It also keeps kept-alive HTTP/1.1 connections from losing requests: gunicorn 27.0.1 with the
C parser keeps at most 64 KiB that arrive after a finished request until its connection loop
resets the parser, and silently closes the connection when more came (with uvloop the client's
next request can arrive in that window). After an answer ends, ``HeadDeadlineProtocol`` passes
on at most ``TAIL_BUDGET`` bytes and holds the rest (reading paused) until gunicorn hands the
next request to the app, then passes it all on. (A request head over ``TAIL_BUDGET`` would
wait there for the head timeout; gunicorn refuses any header field over 8 KiB long before.)

The serving loop is the ``asgi`` worker's own, written against the public ``Worker`` API
(sockets, ``notify``, ``alive``, ``nr_conns``), because gunicorn builds its protocol inside it.
"""
from __future__ import annotations

import asyncio
import os
import time

from gunicorn.asgi.protocol import ASGIProtocol
from gunicorn.workers.gasgi import ASGIWorker

HEAD_TIMEOUT_ENV = "KFUNC_HEAD_TIMEOUT_S"
DEFAULT_HEAD_TIMEOUT_S = 10.0
TAIL_BUDGET = 48 * 1024  # under gunicorn-h1c's 64 KiB cap on bytes held after a finished request


class HeadDeadlineProtocol(asyncio.Protocol):
    """gunicorn's ASGI connection protocol (wrapped, not changed), closed when a request head
    takes over ``head_timeout`` seconds."""

    def __init__(self, worker: "KFuncWorker", head_timeout: float | None) -> None:
        self.inner = ASGIProtocol(worker)
        self.loop = worker.loop
        self.log = worker.log
        self.head_timeout = head_timeout
        self.in_flight = 0
        self.deadline: asyncio.TimerHandle | None = None
        self.transport: asyncio.BaseTransport | None = None
        self.peer = None
        self.draining = False
        self.connections = worker.kfunc_connections
        self.gated = False  # an HTTP/1.1 answer ended and the next request is not with the app yet
        self.passed = 0  # bytes passed on since
        self.held: list[bytes] = []
        app = self.inner.app

        async def tracked(scope, receive, send):
            self._request_started(scope)
            try:
                await app(scope, receive, send if scope.get("http_version") == "2" else self._gating(send))
            finally:
                self.in_flight -= 1
                if self.draining and self.in_flight == 0:
                    self.transport.close()  # its last answer is written: no keep-alive while draining

        self.inner.app = tracked

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.connections.add(self)
        self.transport = transport
        self.peer = transport.get_extra_info("peername")
        self._arm()
        self.inner.connection_made(RefusalLog(transport, self))

    def data_received(self, data: bytes) -> None:
        if self.in_flight == 0 and self.deadline is None:
            self._arm()  # the first bytes of a new request head
        if self.gated:
            room = 0 if self.held else TAIL_BUDGET - self.passed  # bytes after held ones wait behind them
            if len(data) > room:
                self._hold(data[room:])
                data = data[:room]
            self.passed += len(data)
        if data:
            self.inner.data_received(data)

    def _gating(self, send):
        """``send``, noting when an HTTP/1.1 answer has gone out whole (the client may send more now)."""
        async def gated_send(message: dict) -> None:
            if message["type"] == "http.response.body" and not message.get("more_body"):
                self.gated, self.passed = True, 0
            await send(message)
        return gated_send

    def _hold(self, data: bytes) -> None:
        if not self.held and self.transport is not None:
            self.transport.pause_reading()
        self.held.append(data)

    def _let_through(self) -> None:
        """The next request is with the app: everything held goes to gunicorn, reading resumes
        (unless its answer has already ended: what is held then belongs to the request after)."""
        if self.held and not self.gated and self.transport is not None and not self.transport.is_closing():
            held, self.held = b"".join(self.held), []
            self.transport.resume_reading()
            self.inner.data_received(held)

    def eof_received(self) -> bool | None:
        return self.inner.eof_received()

    def connection_lost(self, exc: Exception | None) -> None:
        self.connections.discard(self)
        self.held.clear()
        self._disarm()
        self.inner.connection_lost(exc)

    def pause_writing(self) -> None:
        self.inner.pause_writing()

    def resume_writing(self) -> None:
        self.inner.resume_writing()

    def drain(self) -> None:
        """Close the connection now if it is idle, else once its requests in flight are answered."""
        self.draining = True
        if self.in_flight == 0 and self.transport is not None:
            self.transport.close()

    def _request_started(self, scope: dict) -> None:
        self.in_flight += 1
        self._disarm()
        if self.gated:
            self.gated = False
            self.loop.call_soon(self._let_through)
        if scope.get("http_version") == "2":
            self.head_timeout = None  # HTTP/2 streams: gunicorn's own stream timeouts apply

    def _arm(self) -> None:
        if self.head_timeout:
            self.deadline = self.loop.call_later(self.head_timeout, self._expired)

    def _disarm(self) -> None:
        if self.deadline is not None:
            self.deadline.cancel()
            self.deadline = None

    def _expired(self) -> None:
        self.deadline = None
        if self.in_flight == 0 and self.transport is not None and not self.transport.is_closing():
            self.log.warning("closed the connection from %s: no complete request head within %gs (%s)",
                             self.peer, self.head_timeout, HEAD_TIMEOUT_ENV)
            self.transport.close()


class RefusalLog:
    """The connection's transport as gunicorn's protocol sees it: every call goes through, and an
    error answer gunicorn writes itself (to a malformed request the app never saw: bad framing,
    bare LF, oversized headers...) is logged with the reason it gives."""

    def __init__(self, transport: asyncio.BaseTransport, connection: HeadDeadlineProtocol) -> None:
        self.transport = transport
        self.connection = connection
        self.status_line: str | None = None

    def __getattr__(self, name: str):
        value = getattr(self.transport, name)
        if callable(value):
            setattr(self, name, value)  # a bound method of the real transport: found directly next time
        return value

    def write(self, data: bytes) -> None:
        # (a closing transport's client has gone: gunicorn's 500 after the app left it unanswered refuses no one)
        if self.connection.in_flight == 0 and not self.transport.is_closing():
            self._note(bytes(data))
        self.transport.write(data)

    def _note(self, data: bytes) -> None:
        if self.status_line is not None:
            self.connection.log.warning("refused a malformed request from %s: %s: %s", self.connection.peer,
                                        self.status_line, data[:200].decode("utf-8", "replace"))
            self.status_line = None
        elif data[:9] == b"HTTP/1.1 " and data[9:10] in (b"4", b"5"):
            self.status_line = data[9:data.find(b"\r\n")].decode("latin-1")


class KFuncWorker(ASGIWorker):
    """The ``asgi`` worker serving connections with ``HeadDeadlineProtocol``; SIGTERM stops accepting
    at once and closes idle kept-alive connections, then the requests in flight finish (within
    ``graceful_timeout``) and their connections close."""

    def init_process(self) -> None:
        self.kfunc_head_timeout = float(os.environ.get(HEAD_TIMEOUT_ENV, DEFAULT_HEAD_TIMEOUT_S)) or None
        self.kfunc_stop: asyncio.Event | None = None
        self.kfunc_exit_at: float | None = None  # time.monotonic() of SIGTERM: the drain budget starts there
        self.kfunc_connections: set[HeadDeadlineProtocol] = set()
        super().init_process()

    def handle_exit_signal(self) -> None:
        self.kfunc_exit_at = time.monotonic()
        super().handle_exit_signal()
        if self.kfunc_stop is not None:
            self.kfunc_stop.set()

    def run(self) -> None:
        try:
            self.loop.run_until_complete(self._kfunc_serve())
        except Exception as exc:
            self.log.exception("Worker exception: %s", exc)
        finally:
            self._kfunc_close()

    async def _kfunc_serve(self) -> None:
        self.kfunc_stop = asyncio.Event()
        servers = [await self.loop.create_server(lambda: HeadDeadlineProtocol(self, self.kfunc_head_timeout),
                                                 sock=listener.sock, start_serving=True)
                   for listener in self.sockets]
        while self.alive:
            self.notify()
            if self.ppid != os.getppid():
                self.log.info("Parent changed, shutting down: %s", self)
                break
            try:
                await asyncio.wait_for(self.kfunc_stop.wait(), timeout=1.0)
            except asyncio.TimeoutError:
                pass
        for server in servers:
            server.close()  # new connections are refused from here on
        for connection in list(self.kfunc_connections):
            connection.drain()  # idle keep-alive connections close now, busy ones after their answer
        deadline = self.loop.time() + self.cfg.graceful_timeout
        while self.nr_conns > 0 and self.loop.time() < deadline:
            self.notify()
            await asyncio.sleep(0.05)
        if self.nr_conns > 0:
            self.log.warning("Forcing close of %d connections", self.nr_conns)

    def _kfunc_close(self) -> None:
        pending = asyncio.all_tasks(self.loop)
        for task in pending:
            task.cancel()
        if pending:
            self.loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        self.loop.close()
        for listener in self.sockets:
            listener.close()
