"""The runtime when S3 is unreachable on the first start: it comes up not ready, says why, and
becomes ready by itself once the store answers."""
from __future__ import annotations

import time

import requests
from moto.server import ThreadedMotoServer

from ..conftest import free_port
from .conftest import S3Server
from .serving import SCALED, infer_scaled, scale_file

BACKOFF_WINDOW_S = 45  # the next try comes within 1 s of the first failure; ample on a busy machine


def wait_for_log(server, text: str, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while text not in server.log():
        assert time.monotonic() < deadline, f"no {text!r} in the log:\n{server.log()}"
        time.sleep(0.1)


def test_unreachable_store_gives_503_naming_it_then_ready_once_it_answers(serve, aws_env, tmp_path):
    port = free_port()
    uri = "s3://late-models/scaled/"
    server = serve(SCALED, "--workers", "1", ready=False, env={
        "KFUNC_MODEL_URI": uri, "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}",
        "KFUNC_CACHE_DIR": str(tmp_path / "cache")})

    readiness = requests.get(server.url + "/v2/health/ready", timeout=5)
    assert readiness.status_code == 503
    error = readiness.json()["error"]
    assert uri in error and "store unreachable" in error and "no cached copy" in error
    assert requests.post(server.url + "/v2/models/scaled/infer", timeout=5, json={
        "inputs": [{"name": "x", "datatype": "FP32", "shape": [1, 3], "data": [1, 1, 1]}]}).status_code == 503

    wait_for_log(server, "attempt 1 failed")  # the worker's own first try, after the master's
    store = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    store.start()
    try:
        s3 = S3Server(f"http://127.0.0.1:{port}", store.stop)
        s3.client().create_bucket(Bucket="late-models")
        s3.put("late-models", {"scaled/scale.npy": scale_file([2.0, 2.0, 2.0])})

        server.wait_ready(timeout=BACKOFF_WINDOW_S)
        assert infer_scaled(server.url)["y"] == [2.0, 2.0, 2.0]
    finally:
        store.stop()
