"""ModelInfer, metadata and readiness with tritonclient.grpc, on the REST port and on --grpc-port."""
from __future__ import annotations

import json

import numpy as np
import pytest
import tritonclient.grpc as tg
from tritonclient.utils import InferenceServerException

from tests.conftest import scrape

ARRAYS = {
    "BOOL": np.array([[True, False], [False, True]]),
    "UINT8": np.array([0, 255], dtype=np.uint8), "UINT16": np.array([0, 65535], dtype=np.uint16),
    "UINT32": np.array([0, 2**32 - 1], dtype=np.uint32), "UINT64": np.array([0, 2**64 - 1], dtype=np.uint64),
    "INT8": np.array([-128, 127], dtype=np.int8), "INT16": np.array([-32768, 32767], dtype=np.int16),
    "INT32": np.array([-2**31, 2**31 - 1], dtype=np.int32), "INT64": np.array([-2**63, 2**63 - 1], dtype=np.int64),
    "FP16": np.array([1.5, -0.25], dtype=np.float16), "FP32": np.array([[1.5, np.inf]], dtype=np.float32),
    "FP64": np.array([1e300, -2.5]), "BYTES": np.array([b"", b"caf\xc3\xa9", b"\x00\xff"], dtype=object),
}


def _input(name: str, array: np.ndarray, datatype: str) -> tg.InferInput:
    tensor = tg.InferInput(name, list(array.shape), datatype)
    tensor.set_data_from_numpy(array)
    return tensor


def _status(call) -> tuple[str, str]:
    with pytest.raises(InferenceServerException) as caught:
        call()
    return caught.value.status(), caught.value.message()


@pytest.mark.parametrize("datatype", list(ARRAYS))
def test_every_datatype_round_trips_raw(target, datatype):
    array = ARRAYS[datatype]
    result = tg.InferenceServerClient(target).infer("echo", [_input("x", array, datatype)])
    answer = result.get_response()
    assert [(o.name, o.datatype, list(o.shape)) for o in answer.outputs][0] == ("echo", datatype, list(array.shape))
    assert len(answer.raw_output_contents) == 2, "a raw request gets a raw answer"
    np.testing.assert_array_equal(result.as_numpy("echo"), array)


def test_outputs_selection_and_parameters(target):
    client = tg.InferenceServerClient(target)
    inputs = [_input("a", ARRAYS["INT32"], "INT32"), _input("b", ARRAYS["FP64"], "FP64")]
    result = client.infer("echo", inputs, outputs=[tg.InferRequestedOutput("parameters"), tg.InferRequestedOutput("b")],
                          parameters={"top_k": 3, "greedy": True, "mode": "fast", "temperature": 0.5},
                          request_id="req-7")
    answer = result.get_response()
    assert [o.name for o in answer.outputs] == ["parameters", "b"], "only the requested outputs, in that order"
    assert answer.id == "req-7" and answer.model_name == "echo" and answer.model_version == "3"
    assert json.loads(result.as_numpy("parameters")[0]) == {"greedy": True, "mode": "fast", "temperature": 0.5, "top_k": 3}
    np.testing.assert_array_equal(result.as_numpy("b"), ARRAYS["FP64"])
    status, message = _status(lambda: client.infer("echo", inputs, outputs=[tg.InferRequestedOutput("nope")]))
    assert status == "StatusCode.INVALID_ARGUMENT" and "'nope'" in message


def test_errors_are_grpc_status_codes(target):
    client = tg.InferenceServerClient(target)
    x = [_input("x", ARRAYS["FP32"], "FP32")]
    status, message = _status(lambda: client.infer("other", x))
    assert status == "StatusCode.NOT_FOUND" and "'echo'" in message
    status, message = _status(lambda: client.infer("echo", x, model_version="9"))
    assert status == "StatusCode.NOT_FOUND" and "version '9'" in message
    status, message = _status(lambda: client.infer("echo", x + x))
    assert status == "StatusCode.INVALID_ARGUMENT" and "more than once" in message
    status, message = _status(lambda: client.infer("echo", [*x, _input("fail", ARRAYS["INT8"], "INT8")]))
    assert status == "StatusCode.INTERNAL" and message == "ValueError: asked to fail"


def test_metadata_and_readiness(target):
    client = tg.InferenceServerClient(target)
    assert client.is_server_live() and client.is_server_ready() and client.is_model_ready("echo")
    assert client.is_model_ready("echo", "3")
    assert _status(lambda: client.is_model_ready("other"))[0] == "StatusCode.NOT_FOUND"
    server = client.get_server_metadata()
    assert server.name == "kfunc" and "binary_tensor_data" in server.extensions
    model = client.get_model_metadata("echo")
    assert model.name == "echo" and list(model.versions) == ["3"]


def test_requests_are_counted_as_grpc(echo, target):
    def count(code: str) -> float:
        return scrape(f"http://{echo.rest}").value("kfunc_requests_total", transport="grpc", protocol="v2", code=code)

    before = count("200"), count("400")
    client = tg.InferenceServerClient(target)
    client.infer("echo", [_input("x", ARRAYS["INT8"], "INT8")])
    twice = [_input("x", ARRAYS["INT8"], "INT8")] * 2
    _status(lambda: client.infer("echo", twice))
    assert (count("200"), count("400")) == (before[0] + 1, before[1] + 1)


def test_tensors_past_grpcs_4_mib_default_pass(target):
    """Messages are limited by runtime.max-body-mb (64 MiB by default), as REST bodies are."""
    array = np.arange(1_500_000, dtype=np.float32)  # 6 MB
    result = tg.InferenceServerClient(target).infer("echo", [_input("x", array, "FP32")])
    np.testing.assert_array_equal(result.as_numpy("echo"), array)
