"""A plain grpcio stub (the generated one): typed contents, malformed raw contents, health, reflection."""
from __future__ import annotations

import grpc
import pytest
import requests
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import ProtoReflectionDescriptorDatabase

from functions.protocol.grpc_codec import CONTENTS_FIELD
from functions.protocol.grpc_gen import open_inference_grpc_pb2 as pb
from functions.protocol.grpc_gen.open_inference_grpc_pb2_grpc import GRPCInferenceServiceStub

from .test_tritonclient import ARRAYS

TYPED = [d for d in ARRAYS if d != "FP16"]


@pytest.fixture(scope="module")
def channel(target):
    with grpc.insecure_channel(target) as channel:
        yield channel


def _tensor(name: str, datatype: str, shape: list[int], **contents) -> pb.ModelInferRequest.InferInputTensor:
    return pb.ModelInferRequest.InferInputTensor(name=name, datatype=datatype, shape=shape,
                                                 contents=pb.InferTensorContents(**contents))


def _infer(channel, *inputs, raw: list[bytes] = ()) -> pb.ModelInferResponse:
    request = pb.ModelInferRequest(model_name="echo", inputs=inputs, raw_input_contents=raw)
    return GRPCInferenceServiceStub(channel).ModelInfer(request)


def _error(call) -> tuple[grpc.StatusCode, str]:
    with pytest.raises(grpc.RpcError) as caught:
        call()
    return caught.value.code(), caught.value.details()


@pytest.mark.parametrize("datatype", TYPED)
def test_typed_contents_round_trip_typed(channel, datatype):
    array = ARRAYS[datatype]
    field = CONTENTS_FIELD[datatype]
    answer = _infer(channel, _tensor("x", datatype, list(array.shape), **{field: array.reshape(-1).tolist()}))
    assert not answer.raw_output_contents, "a typed request gets a typed answer"
    output = answer.outputs[0]
    assert (output.name, output.datatype, list(output.shape)) == ("echo", datatype, list(array.shape))
    assert list(getattr(output.contents, field)) == array.reshape(-1).tolist()


def test_bad_typed_contents_are_invalid_argument(channel):
    cases = [
        (_tensor("x", "FP32", [3], fp32_contents=[1.0, 2.0]), "3 elements"),
        (_tensor("x", "FP32", [2], int_contents=[1, 2]), "contents.fp32_contents"),
        (_tensor("x", "INT8", [1], int_contents=[300]), "out of range for INT8"),
        (_tensor("x", "FP16", [1], fp32_contents=[1.0]), "raw_input_contents"),
        (_tensor("x", "COMPLEX", [1]), "'datatype'"),
        (_tensor("x", "FP32", [-1], fp32_contents=[1.0]), "non-negative"),
        (_tensor("", "FP32", [1], fp32_contents=[1.0]), "name"),
    ]
    for tensor, words in cases:
        code, message = _error(lambda: _infer(channel, tensor))
        assert code == grpc.StatusCode.INVALID_ARGUMENT and words in message, (tensor, message)


def test_bad_raw_contents_are_invalid_argument(channel):
    x = _tensor("x", "INT32", [2])
    cases = [
        ([x], [b"\x00" * 7], "needs 8"),
        ([x, _tensor("y", "INT32", [2])], [b"\x00" * 8], "one entry per input"),
        ([_tensor("x", "INT32", [1], int_contents=[1])], [b"\x00" * 4], "only one"),
        ([_tensor("s", "BYTES", [1])], [b"\x05\x00\x00\x00abc"], "claims 5 bytes"),
        ([_tensor("s", "BYTES", [1])], [b"\x01\x00\x00\x00ab"], "left over"),
    ]
    for inputs, raw, words in cases:
        code, message = _error(lambda: _infer(channel, *inputs, raw=raw))
        assert code == grpc.StatusCode.INVALID_ARGUMENT and words in message, (raw, message)


def test_handler_failure_is_internal_without_traceback(channel):
    code, message = _error(lambda: _infer(channel, _tensor("fail", "INT32", [1], int_contents=[1]),
                                          _tensor("x", "INT32", [1], int_contents=[1])))
    assert code == grpc.StatusCode.INTERNAL and message == "ValueError: asked to fail"


def test_health_check_and_watch(channel):
    health = health_pb2_grpc.HealthStub(channel)
    serving = health_pb2.HealthCheckResponse.SERVING
    for service in ("", "inference.GRPCInferenceService"):
        assert health.Check(health_pb2.HealthCheckRequest(service=service)).status == serving
    code, _ = _error(lambda: health.Check(health_pb2.HealthCheckRequest(service="nope.Service")))
    assert code == grpc.StatusCode.NOT_FOUND
    first = next(iter(health.Watch(health_pb2.HealthCheckRequest(service=""))))
    assert first.status == serving


def test_reflection_lists_and_describes_the_services(channel):
    database = ProtoReflectionDescriptorDatabase(channel)
    services = set(database.get_services())
    assert {"inference.GRPCInferenceService", "grpc.health.v1.Health"} <= services
    described = database.FindFileContainingSymbol("inference.ModelInferRequest")
    assert "ModelInferRequest" in [m.name for m in described.message_type]


def test_reflection_v1_on_the_rest_port(echo):
    """grpcurl asks v1 first; its messages are v1alpha's, field for field."""
    with grpc.insecure_channel(echo.rest) as channel:
        call = channel.stream_stream("/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
                                     request_serializer=reflection_pb2.ServerReflectionRequest.SerializeToString,
                                     response_deserializer=reflection_pb2.ServerReflectionResponse.FromString)
        (answer,) = list(call(iter([reflection_pb2.ServerReflectionRequest(list_services="")])))
    assert "inference.GRPCInferenceService" in [s.name for s in answer.list_services_response.service]


def test_grpc_over_http1_gets_a_clear_400(echo):
    answer = requests.post(f"http://{echo.rest}/inference.GRPCInferenceService/ServerLive", data=b"\x00\x00\x00\x00\x00",
                           headers={"Content-Type": "application/grpc"})
    assert answer.status_code == 400 and "HTTP/2" in answer.json()["error"]


def test_unknown_method_is_unimplemented(channel):
    for path in ("/inference.GRPCInferenceService/ModelLoad", "/other.Service/Call"):
        call = channel.unary_unary(path, request_serializer=pb.ServerLiveRequest.SerializeToString,
                                   response_deserializer=pb.ServerLiveResponse.FromString)
        code, _ = _error(lambda: call(pb.ServerLiveRequest()))
        assert code == grpc.StatusCode.UNIMPLEMENTED, path
