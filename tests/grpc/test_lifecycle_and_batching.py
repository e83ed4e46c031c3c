"""Readiness while the model loads (UNAVAILABLE, NOT_SERVING) and micro-batching over gRPC, on both ports."""
from __future__ import annotations

import time

import grpc
import numpy as np
import pytest
import tritonclient.grpc as tg
from grpc_health.v1 import health_pb2, health_pb2_grpc
from tritonclient.utils import InferenceServerException

from tests.conftest import function_dir

from .conftest import wait_model_ready


def _x(values: list[list[float]]) -> list[tg.InferInput]:
    array = np.array(values, dtype=np.float32)
    tensor = tg.InferInput("x", list(array.shape), "FP32")
    tensor.set_data_from_numpy(array)
    return [tensor]


def test_not_ready_until_the_model_loads(start_server, tmp_path):
    marker = tmp_path / "store-is-up"
    server = start_server(function_dir("slowload"), env={"KFUNC_TEST_MARKER": str(marker)})
    for target in (server.rest, server.grpc):
        client = tg.InferenceServerClient(target)
        assert client.is_server_live() and not client.is_server_ready() and not client.is_model_ready("slowload")
        with pytest.raises(InferenceServerException) as caught:
            client.infer("slowload", _x([[1.0]]))
        assert caught.value.status() == "StatusCode.UNAVAILABLE"
        assert "not ready" in caught.value.message() and "model store unreachable" in caught.value.message()
        with grpc.insecure_channel(target) as channel:
            status = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest()).status
        assert status == health_pb2.HealthCheckResponse.NOT_SERVING
    marker.touch()
    wait_model_ready(server.rest, "slowload")
    for target in (server.rest, server.grpc):
        result = tg.InferenceServerClient(target).infer("slowload", _x([[1.0, 2.0]]))
        np.testing.assert_array_equal(result.as_numpy("output-0"), [[7.0, 14.0]])


@pytest.mark.parametrize("port", ["rest", "grpc"])
def test_requests_that_wait_are_batched(start_server, port):
    """A call held by a 99 row: the three requests that arrive meanwhile go to the predictor together."""
    server = start_server(function_dir("batcher"))
    wait_model_ready(server.rest, "batcher")
    client = tg.InferenceServerClient(getattr(server, port))
    results = []
    client.async_infer("batcher", _x([[99.0, 0.0]]), lambda result, error: results.append(("held", result, error)))
    time.sleep(0.15)  # the held call is in the predictor
    for value in (1.0, 2.0, 3.0):
        client.async_infer("batcher", _x([[value, 0.0]]), lambda result, error: results.append(("queued", result, error)))
    deadline = time.monotonic() + 10
    while len(results) < 4 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert [error for _, _, error in results] == [None] * 4
    stacked = {kind: [int(r.as_numpy("y")[0, 2]) for k, r, _ in results if k == kind] for kind in ("held", "queued")}
    assert stacked == {"held": [1], "queued": [3, 3, 3]}
