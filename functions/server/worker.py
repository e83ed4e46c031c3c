"""The gunicorn worker: gthread, plus a fast path for plain inference requests, a thread that
stays with its keep-alive connection, and a drain that refuses new connections at once.

gthread hands every request over twice: the main thread polls the connection and passes it to
a pool thread, which passes it back to be polled again once answered. On a keep-alive
connection the next request usually follows within a round trip, so the thread that answered
waits up to ``LINGER_S`` for it and serves it directly, saving both hand-overs. It lingers only
while no other connection waits for a thread, and gives up as soon as one does.

Requests after the first on a connection go through ``fasthttp`` when they are plain
inference requests (see there); all others through gunicorn's own parser and writer.
"""
from __future__ import annotations

import os
import select
import threading

from gunicorn.workers.gthread import ThreadWorker

from . import fasthttp
from .inference import InferenceServer

LINGER_S = 0.005


class KFuncWorker(ThreadWorker):
    """gthread worker with the fast path and lingering threads; closes its listening sockets as
    soon as it starts draining (gunicorn keeps them open until the requests in flight are done,
    so a connection made after SIGTERM would wait in the backlog and be reset at exit)."""

    def init_process(self) -> None:
        self._linger_lock = threading.Lock()
        self._lingering = 0
        self._wake_read, self._wake_write = os.pipe()
        os.set_blocking(self._wake_read, False)
        os.set_blocking(self._wake_write, False)
        self._fast = False
        super().init_process()

    def load_wsgi(self) -> None:
        super().load_wsgi()
        self._fast = (isinstance(self.wsgi, InferenceServer) and not self.cfg.is_ssl and not self.cfg.accesslog
                      and not self.cfg.max_requests and not os.environ.get("SCRIPT_NAME"))

    def set_accept_enabled(self, enabled: bool) -> None:
        super().set_accept_enabled(enabled)
        if not enabled and not self.alive:
            for listener in self.sockets:
                listener.close()

    def enqueue_req(self, conn) -> None:
        super().enqueue_req(conn)
        if self._lingering:  # a thread waiting on its own connection gives way to this one
            try:
                os.write(self._wake_write, b"\0")
            except BlockingIOError:
                pass

    def handle(self, conn):
        while True:
            keep = self._handle_fast(conn) if self._fast and conn.initialized and not conn.is_http2 else None
            if keep is None:
                keep = super().handle(conn)
            if keep is not True or not self.alive:
                return keep
            if conn.parser.unreader.buf.getvalue():
                continue  # the next request is already read (pipelined)
            if not self._next_request_soon(conn.sock):
                return keep

    def _handle_fast(self, conn) -> bool | None:
        """Serve the connection's next request on the fast path: True to keep the connection,
        False to close it, None when gunicorn must serve it (the bytes read are handed back)."""
        conn.sock.setblocking(True)
        try:
            request = fasthttp.read_plain(conn.sock, conn.parser.unreader.take_buffered(), self.cfg,
                                          self.wsgi.serves)
        except OSError:
            return False
        if isinstance(request, bytes):
            if not request:
                return False  # the client closed the connection
            conn.parser.unreader.unread(request)
            return None
        if request.rest:
            conn.parser.unreader.unread(request.rest)
        self.nr += 1
        keep = self.alive and len(self.keepalived_conns) < self.max_keepalived
        try:
            fasthttp.answer(conn.sock, request, self.wsgi, conn.client, conn.server, keep, self.cfg.workers > 1)
        except OSError:
            return False
        return keep

    def _next_request_soon(self, sock) -> bool:
        """Whether ``sock`` has a request within ``LINGER_S``, waiting only while no other
        connection needs this thread."""
        with self._linger_lock:
            if not self.tpool._work_queue.empty() or self._lingering >= self.cfg.threads - 1:
                return False
            self._lingering += 1
        try:
            poller = select.poll()
            poller.register(sock, select.POLLIN)
            poller.register(self._wake_read, select.POLLIN)
            events = dict(poller.poll(LINGER_S * 1000))
        finally:
            with self._linger_lock:
                self._lingering -= 1
        if self._wake_read in events:
            try:
                os.read(self._wake_read, 1)
            except BlockingIOError:
                pass
            return False
        return sock.fileno() in events
