"""The gRPC codec: ModelInferRequest/Response <-> InferRequest/InferTensor, typed and raw."""
from __future__ import annotations

import numpy as np
import pytest

from functions.errors import InvalidInput, RemotePredictorError
from functions.protocol import grpc_codec
from functions.protocol.grpc_gen import open_inference_grpc_pb2 as pb
from functions.protocol.v2 import InferRequest, InferTensor, RequestedOutput

ARRAYS = {
    "BOOL": np.array([True, False]), "UINT8": np.array([0, 255], np.uint8), "UINT64": np.array([2**64 - 1], np.uint64),
    "INT8": np.array([[-128], [127]], np.int8), "INT64": np.array([-2**63], np.int64),
    "FP16": np.array([0.5], np.float16), "FP32": np.array([1.5, -np.inf], np.float32), "FP64": np.array([1e300]),
    "BYTES": np.array([b"a", b"\xff\x00"], dtype=object),
}


@pytest.mark.parametrize("raw", [True, False])
@pytest.mark.parametrize("datatype", list(ARRAYS))
def test_request_round_trip(datatype, raw):
    array = ARRAYS[datatype]
    tensor = InferTensor("x", datatype, list(array.shape), array)
    message = grpc_codec.encode_request("m", [tensor], raw=raw, request_id="r1",
                                        outputs=[RequestedOutput("y", parameters={"k": 1})],
                                        parameters={"flag": True, "n": 3, "t": 0.5, "s": "v"})
    wire = pb.ModelInferRequest.FromString(message.SerializeToString())
    request, was_raw = grpc_codec.decode_request(wire)
    assert was_raw == (raw or datatype == "FP16")
    assert request.id == "r1" and request.parameters == {"flag": True, "n": 3, "t": 0.5, "s": "v"}
    assert [(o.name, o.parameters) for o in request.outputs] == [("y", {"k": 1})]
    (decoded,) = request.inputs
    assert (decoded.name, decoded.datatype, decoded.shape) == ("x", datatype, list(array.shape))
    np.testing.assert_array_equal(decoded.data, array)


def test_response_selects_outputs_and_answers_raw_as_asked():
    outputs = [InferTensor("a", "INT32", [2], np.array([1, 2])), InferTensor("b", "FP16", [1], np.array([0.5]))]
    request = InferRequest(id="q", inputs=[], outputs=[RequestedOutput("a")])
    typed = grpc_codec.encode_response("m", "2", request, outputs, raw=False)
    assert [o.name for o in typed.outputs] == ["a"] and list(typed.outputs[0].contents.int_contents) == [1, 2]
    assert not typed.raw_output_contents and typed.model_version == "2" and typed.id == "q"
    every = grpc_codec.encode_response("m", None, InferRequest(id=None, inputs=[]), outputs, raw=False)
    assert len(every.raw_output_contents) == 2, "an FP16 output makes the whole answer raw"
    decoded = grpc_codec.decode_response(every)
    np.testing.assert_array_equal(decoded[1].data, np.array([0.5], np.float16))
    with pytest.raises(InvalidInput, match="'c' is not an output"):
        grpc_codec.encode_response("m", None, InferRequest(id=None, inputs=[], outputs=[RequestedOutput("c")]),
                                   outputs, raw=False)


def test_malformed_messages_are_named():
    with pytest.raises(InvalidInput, match="appears more than once"):
        grpc_codec.decode_request(pb.ModelInferRequest(outputs=[{"name": "y"}, {"name": "y"}]))
    with pytest.raises(InvalidInput, match="cannot be sent over gRPC"):
        grpc_codec.encode_request("m", [], raw=True, parameters={"list": [1]})
    broken = pb.ModelInferResponse(outputs=[{"name": "y", "datatype": "INT32", "shape": [2]}],
                                   raw_output_contents=[b"\x00"])
    with pytest.raises(RemotePredictorError, match="needs 8"):
        grpc_codec.decode_response(broken)
