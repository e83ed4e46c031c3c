"""One function, every protocol: tritonclient (JSON and binary), the kserve REST client,
plain HTTP and the cloudevents SDK all get the answer the model gives in-process."""
from __future__ import annotations

import numpy as np
import pytest
import requests
import tritonclient.http as triton
from cloudevents.conversion import to_binary, to_structured
from cloudevents.http import CloudEvent, from_http

from tests.conftest import REPO, function_dir, kserve_client

MLP = REPO / "examples" / "mlp"


@pytest.fixture(scope="module")
def batch() -> np.ndarray:
    return np.random.default_rng(1).standard_normal((3, 64)).astype(np.float32)


@pytest.fixture(scope="module")
def mlp_server(serve_module):
    return serve_module(MLP, "--workers", "2", "--threads", "2")


@pytest.mark.parametrize("binary", [False, True], ids=["json", "binary"])
def test_tritonclient_gets_model_outputs(mlp_server, batch, expected, binary):
    client = triton.InferenceServerClient(mlp_server.url.removeprefix("http://"))
    assert client.is_server_live() and client.is_server_ready() and client.is_model_ready("mlp")
    assert client.get_model_metadata("mlp")["inputs"] == [{"name": "input-0", "datatype": "FP32", "shape": [-1, 64]}]
    tensor = triton.InferInput("input-0", list(batch.shape), "FP32")
    tensor.set_data_from_numpy(batch, binary_data=binary)
    result = client.infer("mlp", [tensor], outputs=[triton.InferRequestedOutput("output-0", binary_data=binary)])
    np.testing.assert_allclose(result.as_numpy("output-0"), expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("binary", [False, True], ids=["json", "binary"])
def test_kserve_v2_client_gets_model_outputs(mlp_server, batch, expected, binary):
    response = kserve_client("rest_v2", url=mlp_server.url, model="mlp", rows=batch.tolist(), binary=binary)
    assert response["id"] == "r-1"
    np.testing.assert_allclose(np.array(response["outputs"][0]), expected, rtol=1e-5, atol=1e-6)


def test_kserve_v1_client_gets_predictions(mlp_server, batch, expected):
    response = kserve_client("rest_v1", url=mlp_server.url, model="mlp", rows=batch.tolist())
    np.testing.assert_allclose(np.array(response["predictions"]), expected, rtol=1e-5, atol=1e-6)


def test_plain_http_post_to_root(mlp_server, batch, expected):
    answer = requests.post(mlp_server.url + "/", json=batch.tolist())
    assert answer.status_code == 200
    np.testing.assert_allclose(np.array(answer.json()), expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("mode", ["binary", "structured"])
def test_cloudevent_answered_in_same_mode(mlp_server, batch, expected, mode):
    event = CloudEvent({"type": "com.example.features", "source": "/tests"}, {"instances": batch.tolist()})
    headers, body = (to_binary if mode == "binary" else to_structured)(event)
    answer = requests.post(mlp_server.url + "/", headers=headers, data=body)
    assert answer.status_code == 200, answer.text
    assert ("ce-id" in answer.headers) == (mode == "binary")
    reply = from_http(dict(answer.headers), answer.content)
    assert reply["type"] == "mlp.response" and reply["source"] == "/kfunc/mlp"
    np.testing.assert_allclose(np.array(reply.data["predictions"]), expected, rtol=1e-5, atol=1e-6)


def test_v2_shaped_cloudevent_gets_v2_answer(mlp_server, batch, expected):
    data = {"inputs": [{"name": "input-0", "datatype": "FP32", "shape": list(batch.shape), "data": batch.ravel().tolist()}]}
    headers, body = to_binary(CloudEvent({"type": "t", "source": "/tests"}, data))
    reply = from_http(*_event_parts(requests.post(mlp_server.url + "/", headers=headers, data=body)))
    output = reply.data["outputs"][0]
    assert output["name"] == "output-0" and output["shape"] == [3, 10]
    np.testing.assert_allclose(np.array(output["data"]).reshape(3, 10), expected, rtol=1e-5, atol=1e-6)


def _event_parts(answer: requests.Response):
    assert answer.status_code == 200, answer.text
    return dict(answer.headers), answer.content


def test_pipeline_runs_transformer_predictor_and_post(serve_module):
    server = serve_module(function_dir("pipeline"))
    x = [[1, 0, 0, 0], [0, 0, 0, 1]]
    weights = np.arange(12, dtype=np.float32).reshape(4, 3)
    expected_y = (np.array(x, dtype=np.float32) * 2) @ weights
    v1 = requests.post(server.url + "/v1/models/pipeline:predict", json={"instances": x}).json()
    assert v1["predictions"] == [{"y": list(row), "argmax": int(row.argmax())} for row in expected_y]
    explained = requests.post(server.url + "/v1/models/pipeline:explain", json={"instances": x}).json()
    assert np.array(explained["explanations"]).shape == (2, 4, 3)
    meta = requests.get(server.url + "/v2/models/pipeline/versions/2").json()
    assert meta["versions"] == ["2"] and "startup_ms" in meta["parameters"]


def test_bytes_tensors_and_async_predictor(serve_module):
    server = serve_module(function_dir("text"))
    client = triton.InferenceServerClient(server.url.removeprefix("http://"))
    words = np.array([b"kfunc", b"knative"], dtype=object)
    for binary in (False, True):
        tensor = triton.InferInput("text", [2], "BYTES")
        tensor.set_data_from_numpy(words, binary_data=binary)
        result = client.infer("text", [tensor], outputs=[triton.InferRequestedOutput("length", binary_data=binary),
                                                          triton.InferRequestedOutput("upper", binary_data=binary)])
        assert result.as_numpy("length").tolist() == [5, 7]
        upper = [w.decode() if isinstance(w, bytes) else w for w in result.as_numpy("upper")]
        assert upper == ["KFUNC", "KNATIVE"]
    selected = requests.post(server.url + "/v2/models/text/infer", json={
        "inputs": [{"name": "text", "datatype": "BYTES", "shape": [1], "data": ["abc"]}],
        "outputs": [{"name": "upper"}]}).json()
    assert [o["name"] for o in selected["outputs"]] == ["upper"] and selected["outputs"][0]["data"] == ["ABC"]


def test_class_based_handler(serve_module):
    server = serve_module(function_dir("classy"))
    answer = requests.post(server.url + "/v1/models/classy:predict", json={"instances": [[1, 2], [3, 4]]})
    assert answer.json() == {"predictions": [6, 14]}


def test_named_inputs_from_kfunc_yaml(serve_module):
    server = serve_module(function_dir("multi"))
    meta = requests.get(server.url + "/v2/models/multi").json()
    assert [t["name"] for t in meta["inputs"]] == ["a", "b"]
    rows = requests.post(server.url + "/v1/models/multi:predict", headers={"X-Request-Id": "abc"},
                         json={"instances": [{"a": [1, 2], "b": [3, 4]}]}).json()
    assert rows["predictions"] == [{"sum": [4.0, 6.0], "request_id": "abc"}]
    v2 = requests.post(server.url + "/v2/models/multi/infer", json={"inputs": [
        {"name": "a", "datatype": "FP64", "shape": [1, 2], "data": [1, 2]},
        {"name": "b", "datatype": "FP64", "shape": [1, 2], "data": [3, 4]}]}).json()
    assert v2["outputs"][0]["data"] == [4.0, 6.0]
