"""A storm of 500 garbage requests against the torch MLP on two workers, over V1, V2, CloudEvents
and plain ``POST /``: every answer is a 4xx with a JSON error, no worker dies, and afterwards the
server is ready and still computes the right answer."""
from __future__ import annotations

import base64
import importlib.util
import json
import os
import random
import re
import threading
import time
import zlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Callable, Iterator

import numpy as np
import pytest
import requests

from tests.conftest import REPO, Server

MLP = REPO / "examples" / "mlp"
V1 = "/v1/models/mlp:predict"
V2 = "/v2/models/mlp/infer"
REQUESTS = 500
THREADS = 8
MB = 1 << 20
HUGE_BODY = 100 * MB
BOMB_SIZE = 200 * MB  # inflated size of the gzip bomb; the body limit is 64 MiB
WORKER_TROUBLE = ("Worker exiting", "WORKER TIMEOUT", "was sent SIGKILL", "was sent SIGTERM", "exited with code")


@dataclass
class Garbage:
    """One bad request; ``status`` is the exact 4xx it must get, when one is certain."""

    kind: str
    path: str
    body: bytes | Callable[[], object]  # bytes, or a factory for a streamed body
    headers: dict[str, str] = field(default_factory=dict)
    status: int | None = None


class ZeroStream:
    """``size`` zero bytes read in 1 MiB blocks: a sized upload sent with Content-Length."""

    def __init__(self, size: int) -> None:
        self.left = size
        self.size = size

    def __len__(self) -> int:
        return self.size

    def read(self, amount: int = -1) -> bytes:
        amount = min(self.left, MB if amount is None or amount < 0 else amount)
        self.left -= amount
        return bytes(amount)


def zero_chunks(size: int) -> Iterator[bytes]:
    """``size`` zero bytes as 1 MiB chunks: a streamed upload sent with chunked encoding."""
    chunk = bytes(MB)
    for _ in range(size // MB):
        yield chunk


def gzip_bomb(size: int) -> bytes:
    """``size`` zero bytes, gzip-compressed, built chunk by chunk (a ~200 KB body)."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)
    chunk = bytes(MB)
    return b"".join([*(compressor.compress(chunk) for _ in range(size // MB)), compressor.flush()])


def v2_tensor(shape: list, data: object, datatype: str = "FP32", name: str = "input-0") -> dict:
    return {"inputs": [{"name": name, "datatype": datatype, "shape": shape, "data": data}]}


def nested(depth: int, leaf: bytes = b"1") -> bytes:
    return b"[" * depth + leaf + b"]" * depth


def ce_headers(**overrides: str | None) -> dict[str, str]:
    """Binary-mode CloudEvent headers; an override of None drops that header."""
    headers = {"ce-specversion": "1.0", "ce-id": "1", "ce-type": "t", "ce-source": "/storm",
               "Content-Type": "application/json", **overrides}
    return {k: v for k, v in headers.items() if v is not None}


STRUCTURED = {"Content-Type": "application/cloudevents+json"}
JSON = {"Content-Type": "application/json"}


def binary_request(header: dict, tail: bytes, declared_length: int | None = None) -> tuple[bytes, dict]:
    encoded = json.dumps(header).encode()
    length = len(encoded) if declared_length is None else declared_length
    return encoded + tail, {"Inference-Header-Content-Length": str(length)}


def kinds(rng: random.Random) -> list[Callable[[], Garbage]]:
    """Makers of each kind of garbage; each call draws a fresh variant from ``rng``."""
    routes = [V1, V2, "/", "/v2/models/mlp/versions/1/infer"]
    valid_v2 = json.dumps(v2_tensor([1, 64], [0.5] * 64)).encode()

    def random_bytes() -> Garbage:
        headers = rng.choice([{}, JSON, ce_headers(), {"Content-Type": "application/octet-stream"}])
        return Garbage("random bytes", rng.choice(routes), rng.randbytes(rng.randint(1, 4096)), headers)

    def truncated_json() -> Garbage:
        path = rng.choice(routes)
        body = json.dumps({"instances": [[0.5] * 64]}).encode() if path == V1 else valid_v2
        return Garbage("truncated JSON", path, body[:rng.randint(1, len(body) - 2)], JSON)

    def huge_shape() -> Garbage:
        shape = rng.choice([[100_000_000_000], [1_000_000, 1_000_000], [1e6, 1e6], [2**62, 2**62, 64], [-1, 64]])
        body = json.dumps(v2_tensor(shape, [1.0] * rng.randint(0, 64))).encode()
        return Garbage("huge shape", rng.choice([V2, "/"]), body, JSON, 400)

    def deep_nesting() -> Garbage:
        depth = rng.choice([300, 1000, 100_000])
        path = rng.choice([V1, V2, "/", "/ce"])
        if path == V1:
            body = b'{"instances": ' + nested(depth) + b"}"
        elif path == "/ce":
            body = b'{"specversion": "1.0", "id": "1", "type": "t", "source": "/s", "data": ' + \
                b'{"inputs": [{"name": "input-0", "datatype": "FP32", "shape": [1], "data": ' + nested(depth) + b"}]}}"
            return Garbage("deep nesting", "/", body, STRUCTURED, 400)
        else:
            body = b'{"inputs": [{"name": "input-0", "datatype": "FP32", "shape": [1], "data": ' + nested(depth) + b"}]}"
        return Garbage("deep nesting", path, body, JSON, 400)

    def wrong_datatype() -> Garbage:
        datatype, data = rng.choice([("INT64", [1] * 64), ("BYTES", ["a"] * 64), ("BOOL", [True] * 64),
                                     ("FP128", [1.0] * 64), (None, [1.0] * 64), ("FP16", [70000.0] * 64)])
        return Garbage("wrong datatype", rng.choice([V2, "/"]), json.dumps(v2_tensor([1, 64], data, datatype)).encode(), JSON, 400)

    def strings_for_numbers() -> Garbage:
        path = rng.choice([V1, V2, "/"])
        row = ["x", *(rng.choice(["x", "1.0", "", "NaN"]) for _ in range(63))]
        body = {"instances": [row]} if path != V2 else v2_tensor([1, 64], row)
        return Garbage("strings for numbers", path, json.dumps(body).encode(), JSON, 400)

    def lying_binary() -> Garbage:
        tensor_header = {"inputs": [{"name": "input-0", "datatype": "FP32", "shape": [1, 64],
                                     "parameters": {"binary_data_size": rng.choice([10**12, 255, -1, 256.0, "256"])}}]}
        body, headers = rng.choice([
            binary_request(tensor_header, bytes(256)),
            binary_request(tensor_header, bytes(256), declared_length=rng.choice([10**9, -5, 0])),
            binary_request({"inputs": [{"name": "input-0", "datatype": "FP32", "shape": [1, 64],
                                        "parameters": {"binary_data_size": 256}}]}, bytes(rng.choice([0, 100, 300]))),
        ])
        if rng.random() < 0.2:
            headers = {"Inference-Header-Content-Length": rng.choice(["abc", "1e3", ""])}
        return Garbage("lying binary extension", V2, body, headers, 400)

    def bad_cloudevent() -> Garbage:
        payload = json.dumps({"instances": [[0.5] * 64]}).encode()
        event = {"specversion": "1.0", "id": "1", "type": "t", "source": "/s", "data": {"instances": [["x"] * 64]}}
        body, headers = rng.choice([
            (payload, ce_headers(**{"ce-id": None})),
            (payload, ce_headers(**{"ce-source": None, "ce-type": None})),
            (payload, ce_headers(**{"ce-specversion": "0.1"})),
            (b'{"specversion": "1.0", "id": ', STRUCTURED),
            (json.dumps({"specversion": "1.0", "type": "t"}).encode(), STRUCTURED),
            (json.dumps(event).encode(), STRUCTURED),
            (json.dumps({**event, "data_base64": base64.b64encode(b"{").decode()}).encode(), STRUCTURED),
            (b"[]", {"Content-Type": "application/cloudevents-batch+json"}),
        ])
        return Garbage("bad CloudEvent", "/", body, headers)

    return [random_bytes, truncated_json, huge_shape, deep_nesting, wrong_datatype,
            strings_for_numbers, lying_binary, bad_cloudevent]


def storm(rng: random.Random, bomb: bytes) -> list[Garbage]:
    """REQUESTS pieces of garbage: a few 100 MB bodies and gzip bombs, the rest drawn evenly."""
    oversized = [
        *(Garbage("100 MB chunked", path, lambda: zero_chunks(HUGE_BODY), JSON, 413) for path in (V1, V2, "/")),
        *(Garbage("100 MB sized", path, lambda: ZeroStream(HUGE_BODY), JSON, 413) for path in (V2, "/")),
        *(Garbage("gzip bomb", rng.choice([V1, V2, "/"]), bomb, {**JSON, "Content-Encoding": "gzip"}, 413)
          for _ in range(20)),
    ]
    makers = kinds(rng)
    garbage = oversized + [makers[i % len(makers)]() for i in range(REQUESTS - len(oversized))]
    rng.shuffle(garbage)
    return garbage


def worker_pids(log: str) -> list[int]:
    return [int(pid) for pid in re.findall(r"Booting worker with pid: (\d+)", log)]


@pytest.fixture(scope="module")
def mlp_server(serve_module) -> Server:
    server = serve_module(MLP, "--workers", "2")
    deadline = time.monotonic() + 20
    while len(worker_pids(server.log())) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)  # ready means one worker answers; the second may still be booting
    return server


@pytest.fixture(scope="module")
def expected_for_ones() -> np.ndarray:
    import torch
    spec = importlib.util.spec_from_file_location("mlp_storm_reference", MLP / "func.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    with torch.inference_mode():
        return module.setup(None)(torch.ones(1, 64)).numpy()


@pytest.mark.slow
@pytest.mark.timeout(60)
def test_garbage_storm_gets_only_4xx_and_the_server_survives(mlp_server, expected_for_ones):
    workers = worker_pids(mlp_server.log())
    assert len(workers) == 2
    garbage = storm(random.Random(2024), gzip_bomb(BOMB_SIZE))

    sessions = threading.local()

    def session() -> requests.Session:
        if not hasattr(sessions, "session"):
            sessions.session = requests.Session()
        return sessions.session

    def send(item: Garbage) -> str | None:
        """None when the answer is right, else what was wrong with it."""
        body = item.body() if callable(item.body) else item.body
        try:  # each thread's requests on its own kept-alive connection
            answer = session().post(mlp_server.url + item.path, data=body, headers=item.headers, timeout=30)
        except requests.RequestException as exc:
            return f"{item.kind} to {item.path}: no answer: {exc!r}"
        try:
            error = answer.json()["error"]
        except (ValueError, KeyError, TypeError):
            error = None
        if not 400 <= answer.status_code < 500 or not isinstance(error, str) \
                or (item.status and answer.status_code != item.status):
            return f"{item.kind} to {item.path}: {answer.status_code} {answer.text[:200]!r}"
        return None

    with ThreadPoolExecutor(THREADS) as pool:
        problems = [p for p in pool.map(send, garbage) if p]
    assert not problems, f"{len(problems)} bad answers, e.g.:\n" + "\n".join(problems[:10])

    assert requests.get(mlp_server.url + "/v2/health/ready").status_code == 200
    log = mlp_server.log()
    assert worker_pids(log) == workers, "a worker was restarted"
    for pid in workers:
        os.kill(pid, 0)  # raises ProcessLookupError if that worker is gone
    assert not [line for line in log.splitlines() if any(t in line for t in WORKER_TROUBLE)]
    answer = requests.post(mlp_server.url + V2, data=json.dumps(v2_tensor([1, 64], [1.0] * 64)))
    assert answer.status_code == 200, answer.text
    np.testing.assert_allclose(np.array(answer.json()["outputs"][0]["data"]), expected_for_ones.ravel(), rtol=1e-5, atol=1e-6)
