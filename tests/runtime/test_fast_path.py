"""The fast path for plain inference requests on kept-alive connections: which requests it takes
(the rest go to gunicorn with the bytes it read handed back), and that a client gets the same
answers from it as from gunicorn."""
from __future__ import annotations

import gzip
import http.client
import json
import socket

import pytest
from gunicorn.config import Config

from functions.server.fasthttp import PlainRequest, read_plain
from functions.server.inference import InferenceServer
from tests.conftest import Server, function_dir

INFER = "/v2/models/limited/infer"
VALID = json.dumps({"inputs": [{"name": "a", "datatype": "INT32", "shape": [1, 2], "data": [1, 2]},
                               {"name": "b", "datatype": "INT32", "shape": [1, 2], "data": [3, 4]}]}).encode()


def read(raw: bytes) -> PlainRequest | bytes:
    ours, theirs = socket.socketpair()
    with ours, theirs:
        theirs.sendall(raw)
        theirs.shutdown(socket.SHUT_WR)
        return read_plain(ours, b"", Config(), InferenceServer.serves)


def request(head: str, body: bytes = b"{}") -> bytes:
    return head.replace("\n", "\r\n").encode() + f"Content-Length: {len(body)}\r\n\r\n".encode() + body


def test_a_plain_inference_request_is_taken_with_what_follows_it():
    taken = read(request("POST /v2/models/m/infer?x=1 HTTP/1.1\nHost: h\nContent-Type: application/json\n"
                         "X-Request-Id:  r-1 \nConnection: keep-alive\n", VALID) + b"POST / HTTP/1.1\r\n")
    assert isinstance(taken, PlainRequest)
    assert taken.target == "/v2/models/m/infer?x=1" and taken.body == VALID
    assert taken.headers == {"HTTP_HOST": "h", "CONTENT_TYPE": "application/json", "HTTP_X_REQUEST_ID": "r-1",
                             "HTTP_CONNECTION": "keep-alive", "CONTENT_LENGTH": str(len(VALID))}
    assert taken.rest == b"POST / HTTP/1.1\r\n"  # the next (pipelined) request stays for later


@pytest.mark.parametrize("head", [
    "GET /v2/models/m/infer HTTP/1.1\n",  # not a POST
    "POST /v2/models/m/ready HTTP/1.1\n",  # not an inference route
    "POST /v2/models/m%20x/infer HTTP/1.1\n",  # percent-encoded: gunicorn decodes it
    "POST /v2/models/m/infer HTTP/1.0\n",  # HTTP/1.0 keeps connections differently
    "POST /v2/models/m/infer HTTP/1.1\nTransfer-Encoding: chunked\n",
    "POST /v2/models/m/infer HTTP/1.1\nExpect: 100-continue\n",
    "POST /v2/models/m/infer HTTP/1.1\nConnection: close\n",
    "POST /v2/models/m/infer HTTP/1.1\nX_Underscore: 1\n",  # gunicorn drops such headers
    "POST /v2/models/m/infer HTTP/1.1\nX-A: 1\nx-a: 2\n",  # repeated: gunicorn joins them
    "POST /v2/models/m/infer HTTP/1.1\nX-A: a\x01b\n",
    "POST /v2/models/m/infer HTTP/1.1\n folded: value\n",
], ids=["get", "route", "percent", "http10", "chunked", "expect", "close", "underscore", "repeated", "control", "fold"])
def test_anything_else_goes_to_gunicorn_with_every_byte_read(head):
    raw = request(head)
    assert read(raw) == raw


@pytest.fixture(scope="module")
def limited(serve_module) -> Server:
    return serve_module(function_dir("limited"))


def exchange(connection: http.client.HTTPConnection, method: str, path: str, body: bytes,
             headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
    connection.request(method, path, body=body, headers={"X-Request-Id": "same", **headers})
    answer = connection.getresponse()
    kept = {k: v for k, v in answer.getheaders() if k not in ("Date", "ce-id", "ce-time")}  # per answer
    return answer.status, kept, answer.read()


CE = {"ce-id": "1", "ce-source": "/t", "ce-specversion": "1.0", "ce-type": "t", "Content-Type": "application/json"}


@pytest.mark.parametrize("method, path, body, headers", [
    ("POST", INFER, VALID, {"Content-Type": "application/json"}),
    ("POST", INFER, b"{not json", {}),
    ("POST", INFER, VALID.replace(b"[1, 2]", b"[1, 2, 3]"), {}),
    ("POST", "/v2/models/nope/infer", VALID, {}),
    ("POST", INFER, VALID + b" " * 11000, {}),  # over runtime.max-body-mb: 413
    ("POST", INFER, gzip.compress(VALID), {"Content-Encoding": "gzip"}),
    ("POST", "/v1/models/limited:predict", b'{"instances": [{"a": [1, 2], "b": [3, 4]}]}', {}),
    ("POST", "/", VALID, CE),
    ("GET", INFER, b"", {}),
], ids=["v2", "json", "shape", "model", "413", "gzip", "v1", "cloudevent", "method"])
def test_a_kept_alive_connection_gets_the_answers_a_new_one_gets(limited, method, path, body, headers):
    host, port = limited.url.removeprefix("http://").split(":")
    fresh = http.client.HTTPConnection(host, int(port), timeout=10)
    kept_alive = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        first = exchange(fresh, method, path, body, headers)  # a connection's first request: gunicorn
        assert exchange(kept_alive, "POST", INFER, VALID, {})[0] == 200
        assert exchange(kept_alive, method, path, body, headers) == first  # its second: the fast path
        assert exchange(kept_alive, "POST", INFER, VALID, {})[0] == 200  # and the connection goes on
    finally:
        fresh.close()
        kept_alive.close()
