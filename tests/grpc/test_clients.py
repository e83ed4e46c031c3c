"""The gRPC clients: a transformer calling its remote predictor over gRPC (KFUNC_PREDICTOR_PROTOCOL=grpc,
one trace across both) and ``kfunc invoke --format grpc``."""
from __future__ import annotations

import json

import numpy as np
import pytest
import requests

from tests.conftest import REPO, function_dir

from .conftest import FUNCS, wait_model_ready

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
MLP = REPO / "examples" / "mlp"


@pytest.fixture(scope="module")
def mlp(start_server):
    server = start_server(MLP, env={"OTEL_TRACES_EXPORTER": "console"})
    wait_model_ready(server.rest, "mlp")
    return server


@pytest.mark.parametrize("port", ["rest", "grpc"])
def test_transformer_calls_remote_predictor_over_grpc(serve, mlp, port):
    frontend = serve(function_dir("frontend"), env={
        "KFUNC_PREDICTOR_HOST": getattr(mlp, port), "KFUNC_PREDICTOR_PROTOCOL": "grpc",
        "OTEL_TRACES_EXPORTER": "console"})
    records = [{"features": [0.5] * 64}, {"features": [-0.5] * 64}]
    answer = requests.post(frontend.url + "/v1/models/mlp:predict", json={"instances": records},
                           headers={"traceparent": f"00-{TRACE_ID}-00f067aa0ba902b7-01"})
    assert answer.status_code == 200, answer.text
    assert len(answer.json()["predictions"]) == 2
    assert f'"trace_id": "0x{TRACE_ID}"' in mlp.log(), "trace context not sent in the gRPC metadata"
    bad = requests.post(frontend.url + "/v1/models/mlp:predict", json={"instances": [{"features": [1.0, 2.0]}]})
    assert bad.status_code == 400 and "INVALID_ARGUMENT" in bad.json()["error"] and "shape" in bad.json()["error"]


def test_invoke_format_grpc(kfunc, mlp):
    status, out, err = kfunc("invoke", MLP, "--target", mlp.rest, "--format", "grpc")
    assert status == 0, err
    answer = json.loads(out)
    assert answer["model_name"] == "mlp" and answer["outputs"][0]["shape"][0] == 1
    assert np.isfinite(answer["outputs"][0]["data"]).all()


def test_invoke_format_grpc_with_named_inputs_and_errors(kfunc, echo):
    data = {"inputs": [{"name": "a", "datatype": "INT16", "data": [1, 2]},
                       {"name": "s", "datatype": "BYTES", "data": ["héllo"]}]}
    status, out, err = kfunc("invoke", FUNCS / "echo", "--target", echo.grpc, "--format", "grpc",
                             "--data", json.dumps(data))
    assert status == 0, err
    outputs = {o["name"]: o["data"] for o in json.loads(out)["outputs"]}
    assert outputs["a"] == [1, 2] and outputs["s"] == ["héllo"]
    status, out, err = kfunc("invoke", FUNCS / "echo", "--target", echo.grpc, "--format", "grpc",
                             "--data", json.dumps({"inputs": [{"name": "a", "datatype": "INT16", "data": [1]}] * 2}))
    assert status != 0 and "INVALID_ARGUMENT" in err and "more than once" in err
