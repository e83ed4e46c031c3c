"""The connection layer as a hostile or broken client meets it: malformed heads and bodies get a
4xx answer and a log line (on a fresh and on a kept-alive connection), stalled heads and bodies
time out, trickling clients do not delay others, pipelined requests are answered in order."""
from __future__ import annotations

import http.client
import io
import json
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


class _KeptOpen(io.BufferedReader):
    def close(self) -> None:  # http.client closes its file after each response; the next one follows
        pass


class _Responses:
    """``sock`` as http.client sees it, every response read from one buffer (pipelined answers)."""

    def __init__(self, sock: socket.socket) -> None:
        self.file = _KeptOpen(socket.SocketIO(sock, "rb"))

    def makefile(self, *args, **kwargs) -> io.BufferedReader:
        return self.file


def pipelined_request(index: int) -> bytes:
    """An inference request, a readiness probe or a 404, by turns, tagged ``r<index>``."""
    tag = f"X-Request-Id: r{index}\r\n"
    if index % 3 == 1:
        return f"GET /v2/health/ready HTTP/1.1\r\nHost: t\r\n{tag}\r\n".encode()
    if index % 3 == 2:
        return f"GET /nothing-here HTTP/1.1\r\nHost: t\r\n{tag}\r\n".encode()
    body = json.dumps({"inputs": [{"name": "input-0", "datatype": "FP32", "shape": [1, 64], "data": [0.5] * 64}]})
    return (f"POST /v2/models/mlp/infer HTTP/1.1\r\nHost: t\r\n{tag}Content-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n{body}").encode()


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


@pytest.mark.parametrize("depth, writes", [(3, "one"), (3, "each"), (40, "one")])
def test_pipelined_requests_are_answered_in_order(server, depth, writes):
    for _ in range(30 if depth == 3 else 3):
        with connect(server.url) as sock:
            requests_ = [pipelined_request(i) for i in range(depth)]
            for chunk in ([b"".join(requests_)] if writes == "one" else requests_):
                sock.sendall(chunk)
            responses = _Responses(sock)
            answers = []
            for _ in range(depth):
                response = http.client.HTTPResponse(responses)
                response.begin()
                response.read()
                answers.append((response.getheader("x-request-id"), response.status))
        assert answers == [(f"r{i}", (200, 200, 404)[i % 3]) for i in range(depth)]


def test_large_requests_after_small_ones_on_a_kept_alive_connection_are_all_answered(server):
    """gunicorn 27.0.1 alone closes such a connection now and then, without an answer."""
    small = json.dumps({"inputs": [{"name": "input-0", "datatype": "FP32", "shape": [1, 64], "data": [0.5] * 64}]})
    large = json.dumps({"inputs": [{"name": "input-0", "datatype": "FP32", "shape": [800, 64], "data": [0.5] * 51200}]})
    with requests.Session() as session:
        for _ in range(60):
            for body, rows in ((small, 1), (large, 800)):
                answer = session.post(server.url + "/v2/models/mlp/infer", data=body, timeout=10)
                assert answer.status_code == 200 and answer.json()["outputs"][0]["shape"] == [rows, 10]


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
