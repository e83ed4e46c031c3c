"""The connection layer as a hostile or broken client meets it: malformed heads and bodies get a
4xx answer and a log line (on a fresh and on a kept-alive connection), stalled heads and bodies
time out, trickling clients do not delay others.

Pipelining is not tested here: gunicorn 27.0.1's asgi worker drops or reorders a few percent of
3-deep HTTP/1.1 pipelines even with a bare ASGI app (both parsers), an upstream defect."""
from __future__ import annotations

import http.client
import socket
import statistics
import time
from pathlib import Path

import pytest
import requests
import yaml

from tests.conftest import REPO

LIVE = b"GET /v2/health/live HTTP/1.1\r\nHost: t\r\n\r\n"
READY = b"GET /v2/health/ready HTTP/1.1\r\nHost: t\r\n\r\n"
MALFORMED = {
    "non-ASCII Content-Length": (b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: \xb2\r\n\r\n", 400),
    "5,000-digit Content-Length": (b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: " + b"9" * 5000 + b"\r\n\r\n", 400),
    "negative Content-Length": (b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: -1\r\n\r\n", 400),
    "duplicated Content-Length": (b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}", 400),
    "Content-Length with Transfer-Encoding": (
        b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400),
    "bare LF line ends": (b"GET /v2/health/live HTTP/1.1\nHost: t\n\n", 400),
    "obs-fold": (b"GET /v2/health/live HTTP/1.1\r\nHost: t\r\nX-A: a\r\n b\r\n\r\n", 400),
    "oversized header": (b"GET /v2/health/live HTTP/1.1\r\nHost: t\r\nX-A: " + b"a" * 20000 + b"\r\n\r\n", 431),
    "bad chunk size": (b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400),
}


def connect(url: str, timeout: float = 5.0) -> socket.socket:
    host, port = url.removeprefix("http://").split(":")
    return socket.create_connection((host, int(port)), timeout=timeout)


def answer(sock: socket.socket) -> tuple[int, bytes]:
    """The next response on ``sock``, read by the standard library's HTTP client."""
    response = http.client.HTTPResponse(sock)
    response.begin()
    return response.status, response.read()


@pytest.fixture(scope="module")
def server(serve_module, tmp_path_factory):
    """The MLP with a 2 s body-read timeout and a 1 s head-read timeout."""
    directory = tmp_path_factory.mktemp("mlp")
    for name in ("func.py", "kfunc.yaml"):
        (directory / name).write_text((REPO / "examples" / "mlp" / name).read_text())
    config = yaml.safe_load((directory / "kfunc.yaml").read_text())
    config["runtime"]["timeout"] = 2
    (directory / "kfunc.yaml").write_text(yaml.safe_dump(config))
    return serve_module(directory, "--workers", "1", env={"KFUNC_HEAD_TIMEOUT_S": "1"})


@pytest.mark.parametrize("connection", ["fresh", "kept-alive"])
@pytest.mark.parametrize("case", list(MALFORMED))
def test_a_malformed_request_gets_a_4xx_answer_and_a_log_line(server, case, connection):
    raw, status = MALFORMED[case]
    with connect(server.url) as sock:
        if connection == "kept-alive":
            sock.sendall(LIVE)
            assert answer(sock)[0] == 200
        sock.sendall(raw)
        got, reason = answer(sock)
    assert got == status
    deadline = time.monotonic() + 5
    while f"{status} " not in server.log() or reason.decode() not in server.log():
        assert time.monotonic() < deadline, f"no log line for {case}:\n{server.log()[-2000:]}"
        time.sleep(0.05)


def test_a_head_that_never_completes_is_closed_after_the_head_timeout(server):
    with connect(server.url) as sock:
        sock.sendall(b"GET /v2/health/live HTTP/1.1\r\nHo")
        started = time.monotonic()
        assert sock.recv(100) == b""  # closed by the server
    assert 0.8 < time.monotonic() - started < 4
    assert "no complete request head within 1s" in server.log()


def test_an_idle_kept_alive_connection_outlives_the_head_timeout(server):
    with connect(server.url) as sock:
        sock.sendall(LIVE)
        assert answer(sock)[0] == 200
        time.sleep(1.5)  # idle, not a stalled head: the keep-alive timeout applies
        sock.sendall(LIVE)
        assert answer(sock)[0] == 200


@pytest.mark.parametrize("connection", ["fresh", "kept-alive"])
def test_a_body_that_stops_arriving_gets_408(server, connection):
    with connect(server.url) as sock:
        if connection == "kept-alive":
            sock.sendall(LIVE)
            answer(sock)
        sock.sendall(b"POST /v2/models/mlp/infer HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\n{\"inp")
        status, body = answer(sock)
    assert status == 408 and b"body incomplete" in body


def test_256_trickling_connections_do_not_delay_a_normal_request(server):
    session = requests.Session()

    def latency() -> float:
        started = time.perf_counter()
        assert session.get(server.url + "/v2/health/ready", timeout=5).status_code == 200
        return time.perf_counter() - started

    alone = statistics.median(latency() for _ in range(20))
    tricklers = [connect(server.url) for _ in range(256)]
    try:
        for sock in tricklers:
            sock.sendall(b"POST /v2/models/mlp/infer HTTP/1.1\r\nHost: t\r\nContent-")
        crowded = statistics.median(latency() for _ in range(20))
        fresh = requests.get(server.url + "/v2/health/ready", timeout=5)  # a new connection too
        assert fresh.status_code == 200
    finally:
        for sock in tricklers:
            sock.close()
    assert crowded - alone < 0.1, (alone, crowded)
