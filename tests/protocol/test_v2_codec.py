"""The Open Inference Protocol REST codec, JSON and binary, cross-checked against tritonclient."""
from __future__ import annotations

import math

import numpy as np
import orjson
import pytest
import tritonclient.http as triton

from functions.datatypes import DATATYPES, to_numpy_dtype
from functions.errors import InvalidInput, KFuncError, RemotePredictorError
from functions.protocol.binary import HEADER_LENGTH
from functions.protocol.v2 import (
    InferRequest,
    InferTensor,
    RequestedOutput,
    decode_request,
    decode_response,
    encode_request,
    encode_response,
)


def _sample(datatype: str) -> np.ndarray:
    """A [2, 3] array of ``datatype`` with its extreme values."""
    if datatype == "BOOL":
        return np.array([[True, False, True], [False, False, True]])
    if datatype == "BYTES":
        return np.array([[b"a", b"", "\u00e9t\u00e9".encode()], [b"x" * 300, b"{}", b"0"]], dtype=object)
    dtype = to_numpy_dtype(datatype)
    if dtype.kind == "f":
        info = np.finfo(dtype)
        return np.array([[0.1, -2.5, info.max], [info.min, info.tiny, 1 / 3]], dtype=dtype)
    info = np.iinfo(dtype)
    return np.array([[info.min, info.max, 0], [1, info.max - 1, 7]], dtype=dtype)


def _header_length(headers: dict[str, str]) -> int | None:
    return int(headers[HEADER_LENGTH]) if HEADER_LENGTH in headers else None


def _assert_same(actual: np.ndarray, expected: np.ndarray, datatype: str) -> None:
    assert actual.shape == expected.shape
    if datatype == "BYTES":
        as_bytes = [e.encode() if isinstance(e, str) else e for e in actual.reshape(-1).tolist()]
        assert as_bytes == expected.reshape(-1).tolist()
    else:
        assert actual.dtype == to_numpy_dtype(datatype)
        np.testing.assert_array_equal(actual, expected)


def _element_types(array: np.ndarray) -> set[type]:
    return {type(e) for e in array.reshape(-1).tolist()}


def _request(body: dict | bytes, header_length: int | None = None) -> InferRequest:
    return decode_request(body if isinstance(body, bytes) else orjson.dumps(body), header_length)


def _rejection(body: dict | bytes, header_length: int | None = None) -> str:
    with pytest.raises(InvalidInput) as caught:
        _request(body, header_length)
    return str(caught.value)


def _input(data: list, datatype: str = "FP32", shape: list | None = None, **extra) -> dict:
    return {"inputs": [{"name": "x", "datatype": datatype, "shape": [len(data)] if shape is None else shape,
                        "data": data, **extra}]}


# --- round trips -------------------------------------------------------------------------------

@pytest.mark.parametrize("binary", [False, True], ids=["json", "binary"])
@pytest.mark.parametrize("datatype", DATATYPES)
def test_request_round_trip(datatype: str, binary: bool) -> None:
    sample = _sample(datatype)
    body, headers = encode_request([InferTensor("x", datatype, [2, 3], sample)], binary=binary, request_id="r1")
    assert headers["Content-Type"] == ("application/octet-stream" if binary else "application/json")
    request = decode_request(body, _header_length(headers))
    (tensor,) = request.inputs
    assert (request.id, tensor.name, tensor.datatype, tensor.shape) == ("r1", "x", datatype, [2, 3])
    _assert_same(tensor.data, sample, datatype)
    if datatype == "BYTES":
        assert _element_types(tensor.data) == ({bytes} if binary else {str})


@pytest.mark.parametrize("binary", [False, True], ids=["json", "binary"])
@pytest.mark.parametrize("datatype", DATATYPES)
def test_response_round_trip(datatype: str, binary: bool) -> None:
    sample = _sample(datatype)
    request = InferRequest(id=None, inputs=[], parameters={"binary_data_output": binary})
    body, headers = encode_response("m", "2", request, [InferTensor("y", datatype, [2, 3], sample)])
    header, (tensor,) = decode_response(body, _header_length(headers))
    assert header == {"model_name": "m", "model_version": "2"}
    _assert_same(tensor.data, sample, datatype)


# --- tritonclient interoperability -----------------------------------------------------------

@pytest.mark.parametrize("binary", [False, True], ids=["json", "binary"])
@pytest.mark.parametrize("datatype", DATATYPES)
def test_decodes_tritonclient_requests(datatype: str, binary: bool) -> None:
    sample = _sample(datatype)
    tensor = triton.InferInput("x", [2, 3], datatype).set_data_from_numpy(sample, binary_data=binary)
    body, header_length = triton.InferenceServerClient.generate_request_body(
        [tensor], outputs=[triton.InferRequestedOutput("y", binary_data=binary)], request_id="7"
    )
    request = decode_request(body, header_length)
    assert request.id == "7"
    assert request.inputs[0].parameters == {}
    _assert_same(request.inputs[0].data, sample, datatype)
    assert request.outputs == [RequestedOutput("y", binary, {})]
    assert request.wants_binary("y") is binary


@pytest.mark.parametrize("binary", [False, True], ids=["json", "binary"])
@pytest.mark.parametrize("datatype", DATATYPES)
def test_tritonclient_reads_responses(datatype: str, binary: bool) -> None:
    sample = _sample(datatype)
    request = InferRequest(id="9", inputs=[], outputs=[RequestedOutput("y", binary, {})])
    body, headers = encode_response("m", None, request, [InferTensor("y", datatype, [2, 3], sample)])
    result = triton.InferResult.from_response_body(body, header_length=_header_length(headers))
    _assert_same(result.as_numpy("y"), sample, datatype)
    assert result.get_response()["id"] == "9"


def test_mixed_binary_and_json_inputs_are_read_in_order() -> None:
    arrays = {"a": np.arange(6, dtype=np.float16).reshape(2, 3), "b": np.array([b"p", b"qq"], dtype=object),
              "c": np.array([[True], [False]]), "d": np.arange(4, dtype=np.int64)}
    tensors = [
        triton.InferInput(name, list(array.shape), datatype).set_data_from_numpy(array, binary_data=name != "b")
        for (name, array), datatype in zip(arrays.items(), ["FP16", "BYTES", "BOOL", "INT64"])
    ]
    body, header_length = triton.InferenceServerClient.generate_request_body(tensors)
    request = decode_request(body, header_length)
    assert [t.name for t in request.inputs] == list(arrays)
    for tensor, (name, array) in zip(request.inputs, arrays.items()):
        _assert_same(tensor.data, array, tensor.datatype)
    assert request.wants_binary("anything")  # tritonclient asks binary_data_output when no outputs are named


def test_per_output_binary_data_overrides_binary_data_output() -> None:
    request = _request({"inputs": [], "parameters": {"binary_data_output": True},
                        "outputs": [{"name": "a", "parameters": {"binary_data": False}}, {"name": "b"}]})
    assert (request.wants_binary("a"), request.wants_binary("b")) == (False, True)
    outputs = [InferTensor(n, "INT32", [1], np.array([1], dtype=np.int32)) for n in ("a", "b")]
    body, headers = encode_response("m", None, request, outputs)
    header = orjson.loads(body[:_header_length(headers)])
    assert header["outputs"][0]["data"] == [1]
    assert header["outputs"][1] == {"name": "b", "datatype": "INT32", "shape": [1],
                                    "parameters": {"binary_data_size": 4}}


# --- JSON data ---------------------------------------------------------------------------------

def test_nested_data_matching_the_shape_is_flattened_row_major() -> None:
    nested = _request(_input([[1, 2, 3], [4, 5, 6]], "INT32", [2, 3])).inputs[0].data
    flat = _request(_input([1, 2, 3, 4, 5, 6], "INT32", [2, 3])).inputs[0].data
    np.testing.assert_array_equal(nested, flat)
    np.testing.assert_array_equal(nested, [[1, 2, 3], [4, 5, 6]])


@pytest.mark.parametrize("data, shape, message", [
    ([[1, 2], [3, 4], [5, 6]], [2, 3], "nested 'data' has 3 elements at depth 0 but shape [2, 3] says 2"),
    ([[1, 2, 3], [4, 5]], [2, 3], "has 2 elements at depth 1"),
    ([[1, 2, 3], 4], [2, 3], "mixes arrays and values"),
    ([[[1], [2], [3]], [[4], [5], [6]]], [2, 3], "holds arrays"),
    ([[1, 2, 3, 4, 5, 6]], [6], "has shape [6] (6 elements) but 'data' holds 1 elements"),
    ([1, 2, 3, 4, 5], [2, 3], "input 'x' has shape [2, 3] (6 elements) but 'data' holds 5 elements"),
    ([1, 2, 3], [], "has shape [] (1 elements) but 'data' holds 3"),
])
def test_data_that_does_not_fit_the_shape_is_rejected(data: list, shape: list, message: str) -> None:
    assert message in _rejection(_input(data, "INT32", shape))


@pytest.mark.parametrize("datatype, data, message", [
    ("FP32", ["1.5", 2.0], "FP32 'data' holds strings; expected numbers"),
    ("FP32", [True, 2.0], "holds booleans"),
    ("INT32", [1.5, 2], "INT32 'data' holds non-integer numbers"),
    ("INT32", [1, None], "holds nulls; expected integers"),
    ("INT8", [1, 300], "out of range for INT8 (-128..127)"),
    ("UINT8", [-1, 2], "out of range for UINT8"),
    ("UINT64", [1.0, 2.0 ** 64], "out of range for UINT64"),
    ("INT64", [2 ** 64 - 1, 1], "out of range for INT64"),
    ("FP16", [1.0, 1e6], "too large for FP16"),
    ("BOOL", [1, 0], "BOOL 'data' holds integers; expected true or false"),
    ("BYTES", ["a", 1], "BYTES 'data' holds integers; expected strings"),
    ("FP64", [{"a": 1}, 2.0], "holds objects"),
])
def test_wrong_element_types_are_rejected(datatype: str, data: list, message: str) -> None:
    assert message in _rejection(_input(data, datatype))


def test_integral_numbers_and_extreme_integers_are_accepted() -> None:
    np.testing.assert_array_equal(_request(_input([1.0, -2.0], "INT32")).inputs[0].data, [1, -2])
    big = _request(_input([2 ** 64 - 1, 0], "UINT64")).inputs[0].data
    assert big.dtype == np.uint64 and int(big[0]) == 2 ** 64 - 1


def test_json_null_reads_as_nan_and_non_finite_outputs_write_null() -> None:
    assert math.isnan(_request(_input([1.0, None], "FP32")).inputs[0].data[1])
    values = np.array([np.nan, np.inf, -np.inf, 1.5], dtype=np.float32)
    request = InferRequest(id=None, inputs=[])
    body, headers = encode_response("m", None, request, [InferTensor("y", "FP32", [4], values)])
    assert orjson.loads(body)["outputs"][0]["data"] == [None, None, None, 1.5]
    as_triton_reads_it = triton.InferResult.from_response_body(body).as_numpy("y")
    assert np.isnan(as_triton_reads_it[:3]).all() and as_triton_reads_it[3] == 1.5
    request.parameters["binary_data_output"] = True
    body, headers = encode_response("m", None, request, [InferTensor("y", "FP32", [4], values)])
    np.testing.assert_array_equal(decode_response(body, _header_length(headers))[1][0].data, values)


# --- malformed requests ------------------------------------------------------------------------

@pytest.mark.parametrize("body, message", [
    (b"{not json", "the request JSON is malformed"),
    (b"", "the request JSON is malformed"),
    (b'{"inputs": [{"name": "x", "data": ' + b"[" * 2000 + b"]" * 2000 + b"}]}", "the request JSON is malformed"),
    (b"[1, 2]", "the request must be a JSON object, got list"),
    ({"id": "1"}, "the request has no 'inputs'"),
    ({"inputs": {"name": "x"}}, "'inputs' must be a list"),
    ({"inputs": ["x"]}, "inputs[0] must be a JSON object"),
    ({"inputs": [{"datatype": "FP32", "shape": [1], "data": [1]}]}, "inputs[0].name must be a non-empty string"),
    ({"id": 5, "inputs": []}, "'id' must be a string"),
    ({"inputs": [], "parameters": [1]}, "request 'parameters' must be a JSON object"),
    ({"inputs": [], "parameters": {"binary_data_output": "yes"}}, "binary_data_output must be true or false"),
    (_input([1], "FP8"), "input 'x': 'datatype' 'FP8' is not one of BOOL"),
    (_input([1], shape=[-1]), "input 'x': 'shape' [-1] must hold non-negative integers"),
    (_input([1], shape=["1"]), "must hold non-negative integers (found '1')"),
    (_input([1], shape=[1] * 40), "'shape' has 40 dimensions"),
    (_input([1], shape=[100_000_000_000]), "(100000000000 elements) but 'data' holds 1"),
    (_input(None, shape=[1]), "input 'x' has no 'data'"),
    (_input(3, shape=[1]), "input 'x': 'data' must be a JSON array, got int"),
    ({"inputs": [_input([1])["inputs"][0]] * 2}, "input 'x' appears more than once"),
    ({"inputs": [], "outputs": [{"name": "y"}, {"name": "y"}]}, "requested output 'y' appears more than once"),
    ({"inputs": [], "outputs": [{"name": "y", "parameters": {"binary_data": 1}}]}, "binary_data must be true or false"),
])
def test_malformed_requests_are_rejected_with_the_field_named(body: dict | bytes, message: str) -> None:
    assert message in _rejection(body)


# --- binary data sizes -------------------------------------------------------------------------

def _binary_body(inputs: list[dict], tail: bytes) -> tuple[bytes, int]:
    header = orjson.dumps({"inputs": inputs})
    return header + tail, len(header)


def _binary_input(datatype: str, shape: list[int], size: object) -> dict:
    return {"name": "x", "datatype": datatype, "shape": shape, "parameters": {"binary_data_size": size}}


@pytest.mark.parametrize("inputs, tail, message", [
    ([_binary_input("FP32", [2], 8)], b"\0" * 12, "12 bytes follow the JSON header but the tensors' binary_data_size"),
    ([_binary_input("FP32", [2], 8)], b"\0" * 4, "binary_data_size 8 runs past the end of the body"),
    ([_binary_input("FP32", [2], 4)], b"\0" * 4, "binary_data_size is 4 bytes but shape [2] of FP32 needs 8"),
    ([_binary_input("FP32", [100_000_000_000], 4)], b"\0" * 4, "needs 400000000000"),
    ([_binary_input("FP32", [1], -4)], b"", "binary_data_size must be a non-negative integer, got -4"),
    ([_binary_input("BYTES", [100_000_000_000], 8)], b"\0" * 8, "need at least 400000000000 bytes"),
    ([_binary_input("BYTES", [2], 9)], b"\1\0\0\0a\x09\0\0\0", "BYTES element 1 claims 9 bytes but only 0 are left"),
    ([_binary_input("BYTES", [1], 7)], b"\1\0\0\0abc", "2 bytes are left over after the last of 1 BYTES elements"),
    ([{**_binary_input("INT8", [1], 1), "data": [1]}], b"\0", "has both 'data' and parameters.binary_data_size"),
])
def test_binary_sizes_must_add_up(inputs: list[dict], tail: bytes, message: str) -> None:
    body, header_length = _binary_body(inputs, tail)
    assert message in _rejection(body, header_length)


def test_binary_data_needs_the_header_length() -> None:
    body, header_length = _binary_body([_binary_input("INT8", [1], 1)], b"\0")
    assert "no Inference-Header-Content-Length header" in _rejection(body[:header_length])
    assert "Inference-Header-Content-Length is 999 but the body is" in _rejection(body, 999)


def test_binary_bool_is_one_byte_per_element_and_nonzero_is_true() -> None:
    body, header_length = _binary_body([_binary_input("BOOL", [3], 3)], b"\0\1\2")
    np.testing.assert_array_equal(_request(body, header_length).inputs[0].data, [False, True, True])


# --- outputs and parameters --------------------------------------------------------------------

def test_requested_outputs_are_selected_in_order_and_unknown_ones_named() -> None:
    outputs = [InferTensor(n, "INT8", [1], np.array([i], dtype=np.int8)) for i, n in enumerate("abc")]
    request = InferRequest(id=None, inputs=[], outputs=[RequestedOutput("c", None, {}), RequestedOutput("a", None, {})])
    body, _ = encode_response("m", None, request, outputs)
    assert orjson.loads(body) == {"model_name": "m", "outputs": [
        {"name": "c", "datatype": "INT8", "shape": [1], "data": [2]},
        {"name": "a", "datatype": "INT8", "shape": [1], "data": [0]}]}
    request.outputs.append(RequestedOutput("nope", None, {}))
    with pytest.raises(InvalidInput) as caught:
        encode_response("m", None, request, outputs)
    assert "requested output 'nope' is not an output of this model; it has a, b, c" in str(caught.value)


def test_parameters_pass_through_and_the_extension_ones_are_consumed() -> None:
    request = _request({
        "parameters": {"tenant": "t1"},
        "inputs": [{"name": "x", "datatype": "INT32", "shape": [1], "data": [3], "parameters": {"scale": 2}}],
        "outputs": [{"name": "y", "parameters": {"binary_data": True, "classification": 3}}],
    })
    assert request.parameters == {"tenant": "t1"}
    assert request.inputs[0].parameters == {"scale": 2}
    assert request.outputs == [RequestedOutput("y", True, {"classification": 3})]
    output = InferTensor("y", "INT32", [1], np.array([6], dtype=np.int32), {"unit": "cm", "binary_data_size": 99})
    body, headers = encode_response("m", "1", request, [output], parameters={"took_ms": 3})
    header = orjson.loads(body[:_header_length(headers)])
    assert header["parameters"] == {"took_ms": 3}
    assert header["outputs"] == [{"name": "y", "datatype": "INT32", "shape": [1],
                                  "parameters": {"unit": "cm", "binary_data_size": 4}}]
    assert headers["Content-Type"] == "application/octet-stream"
    assert body[_header_length(headers):] == np.array([6], dtype="<i4").tobytes()


def test_encode_request_asks_for_outputs_as_given() -> None:
    body, headers = encode_request([], binary=False, outputs=[RequestedOutput("y", True, {"k": 1}),
                                                              RequestedOutput("z", None, {})])
    assert orjson.loads(body) == {"inputs": [], "outputs": [
        {"name": "y", "parameters": {"k": 1, "binary_data": True}}, {"name": "z"}]}
    assert headers == {"Content-Type": "application/json"}


@pytest.mark.parametrize("output, message", [
    (InferTensor("y", "FP32", [3], np.zeros(2, dtype=np.float32)), "'y' has shape [3] (3 elements) but its data holds 2"),
    (InferTensor("y", "INT32", [1], np.array([0.5])), "output 'y': float64 data cannot be sent as INT32"),
    (InferTensor("y", "BYTES", [1], np.array([b"\xff"], dtype=object)), "not UTF-8; send it as binary data"),
    (InferTensor("y", "BF16", [1], np.zeros(1)), "datatype 'BF16' is not one of"),
])
def test_outputs_that_do_not_match_their_declaration_are_server_errors(output: InferTensor, message: str) -> None:
    with pytest.raises(KFuncError) as caught:
        encode_response("m", None, InferRequest(id=None, inputs=[]), [output])
    assert message in str(caught.value) and caught.value.status == 500


@pytest.mark.parametrize("body, header_length, message", [
    (b'{"error": "boom"}', None, "it has no 'outputs'"),
    (b"<html>", None, "the response JSON is malformed"),
    (b'{"outputs": [{"name": "y", "datatype": "FP32", "shape": [1], "data": ["a"]}]}', None, "holds strings"),
])
def test_malformed_responses_are_remote_predictor_errors(body: bytes, header_length: int | None, message: str) -> None:
    with pytest.raises(RemotePredictorError) as caught:
        decode_response(body, header_length)
    assert message in str(caught.value) and caught.value.status == 502


@pytest.mark.parametrize("binary", [False, True], ids=["json", "binary"])
@pytest.mark.parametrize("array", [np.array(2.5, dtype=np.float32), np.zeros((0, 3), dtype=np.int8),
                                   np.empty((2, 0), dtype=object)], ids=["scalar", "empty", "empty-bytes"])
def test_scalar_and_empty_tensors_round_trip(array: np.ndarray, binary: bool) -> None:
    datatype = "BYTES" if array.dtype == object else ("FP32" if array.dtype == np.float32 else "INT8")
    body, headers = encode_request([InferTensor("x", datatype, list(array.shape), array)], binary=binary)
    (tensor,) = decode_request(body, _header_length(headers)).inputs
    assert tensor.shape == list(array.shape) and tensor.data.shape == array.shape
    np.testing.assert_array_equal(tensor.data, array)
