"""A CloudEvents receiver on loopback for the payload-log tests: a small ``http.server`` of the
test's own, events (binary mode, or JSON batches) parsed by the cloudevents SDK. It can answer slowly, fail, or go away and
come back on the same port; it counts the connections it was opened (keep-alive checks)."""
from __future__ import annotations

import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from cloudevents.http import CloudEvent, from_http, from_json


class Receiver:
    """``events`` holds every event received (``status`` 202); ``delay`` seconds before each answer."""

    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay
        self.status = 202
        self.events: list[CloudEvent] = []
        self.posts = 0
        self.connections = 0
        self.lock = threading.Lock()
        self.port = 0
        self._server: ThreadingHTTPServer | None = None
        self._open: set[socket.socket] = set()
        self.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def start(self) -> None:
        """Listen (again, on the same port after ``stop``)."""
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive

            def setup(self) -> None:
                super().setup()
                with receiver.lock:
                    receiver.connections += 1
                    receiver._open.add(self.connection)

            def finish(self) -> None:
                with receiver.lock:
                    receiver._open.discard(self.connection)
                super().finish()

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if receiver.delay:
                    time.sleep(receiver.delay)
                status = receiver.status
                if status < 300:
                    if self.headers.get("Content-Type", "").startswith("application/cloudevents-batch+json"):
                        events = [from_json(json.dumps(record)) for record in json.loads(body)]
                    else:
                        events = [from_http(dict(self.headers), body, data_unmarshaller=lambda data: data)]
                    with receiver.lock:
                        receiver.events.extend(events)
                        receiver.posts += 1
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        server.daemon_threads = True
        self.port = server.server_address[1]
        self._server = server
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def stop(self) -> None:
        """Stop listening and close the kept-alive connections (connections are refused until ``start``)."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        with self.lock:
            for connection in self._open:
                try:
                    connection.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def wait_for(self, count: int, timeout: float = 30.0) -> list[CloudEvent]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.events) >= count:
                    return list(self.events)
            time.sleep(0.05)
        raise AssertionError(f"{len(self.events)} events received, expected {count}")
