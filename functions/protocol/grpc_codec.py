"""Open Inference Protocol gRPC messages (``inference.ModelInferRequest``/``Response``) <-> numpy tensors.

The same ``InferRequest``/``InferTensor`` objects as the REST codec (``v2.py``) and the same
checks (``tensor_data``, ``binary``): typed ``contents`` are checked as JSON ``data`` is, and
``raw_input_contents`` as binary tensor data is (little-endian, BYTES elements 4-byte
length-prefixed). A response is raw (``raw_output_contents``) when its request was, as Triton
answers, or when an output is FP16 (which has no typed ``contents`` field).
"""
from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from ..errors import InvalidInput, RemotePredictorError
from .binary import array_from_bytes, array_to_bytes
from .grpc_gen.open_inference_grpc_pb2 import InferParameter, InferTensorContents, ModelInferRequest, ModelInferResponse
from .tensor_data import array_from_json, check_datatype, check_shape, element_count, output_array
from .v2 import InferRequest, InferTensor, RequestedOutput, check_unique, select_outputs

# The typed ``contents`` field each datatype travels in (FP16: raw contents only).
CONTENTS_FIELD = {
    "BOOL": "bool_contents", "INT8": "int_contents", "INT16": "int_contents", "INT32": "int_contents",
    "INT64": "int64_contents", "UINT8": "uint_contents", "UINT16": "uint_contents", "UINT32": "uint_contents",
    "UINT64": "uint64_contents", "FP32": "fp32_contents", "FP64": "fp64_contents", "BYTES": "bytes_contents",
}
_PARAMETER_KINDS = ((bool, "bool_param"), (int, "int64_param"), (float, "double_param"), (str, "string_param"))


def decode_request(message: ModelInferRequest) -> tuple[InferRequest, bool]:
    """A ModelInferRequest as (the InferRequest, whether its inputs came as raw contents).

    Raises InvalidInput naming the field when anything about the request is wrong.
    """
    raw = list(message.raw_input_contents)
    if raw and len(raw) != len(message.inputs):
        raise InvalidInput(f"raw_input_contents has {len(raw)} entries but there are {len(message.inputs)} "
                           "inputs; send one entry per input, in order")
    inputs = [_decode_input(entry, raw[index] if raw else None, index) for index, entry in enumerate(message.inputs)]
    check_unique([t.name for t in inputs], "input")
    outputs = [RequestedOutput(name=_name(o.name, f"outputs[{i}]"), parameters=parameters_from_proto(o.parameters))
               for i, o in enumerate(message.outputs)]
    check_unique([o.name for o in outputs], "requested output")
    request = InferRequest(id=message.id or None, inputs=inputs, outputs=outputs,
                           parameters=parameters_from_proto(message.parameters))
    return request, bool(raw)


def encode_response(model_name: str, model_version: str | None, request: InferRequest, outputs: list[InferTensor],
                    raw: bool) -> ModelInferResponse:
    """The ModelInferResponse for ``outputs``, as ``request`` selected them (all when none were
    named, else those in the requested order; an unknown name is InvalidInput)."""
    message = ModelInferResponse(model_name=model_name, model_version=model_version or "", id=request.id or "")
    tensors = select_outputs(request, outputs)
    raw = raw or any(t.datatype == "FP16" for t in tensors)
    message.raw_output_contents.extend(_encode_tensors(tensors, message.outputs, raw, "output"))
    return message


def encode_request(model_name: str, inputs: list[InferTensor], *, raw: bool, request_id: str | None = None,
                   outputs: list[RequestedOutput] | None = None, parameters: Mapping[str, Any] | None = None,
                   model_version: str | None = None) -> ModelInferRequest:
    """A ModelInferRequest for ``inputs``, as raw contents or typed ``contents`` (FP16 forces raw)."""
    message = ModelInferRequest(model_name=model_name, model_version=model_version or "", id=request_id or "")
    parameters_to_proto(parameters or {}, message.parameters)
    for output in outputs or []:
        parameters_to_proto(output.parameters, message.outputs.add(name=output.name).parameters)
    raw = raw or any(t.datatype == "FP16" for t in inputs)
    message.raw_input_contents.extend(_encode_tensors(inputs, message.inputs, raw, "input"))
    return message


def decode_response(message: ModelInferResponse) -> list[InferTensor]:
    """The output tensors of a ModelInferResponse; RemotePredictorError if it is malformed."""
    raw = list(message.raw_output_contents)
    try:
        if raw and len(raw) != len(message.outputs):
            raise InvalidInput(f"raw_output_contents has {len(raw)} entries for {len(message.outputs)} outputs")
        return [_decode_tensor(entry, raw[i] if raw else None, f"output {entry.name!r}")
                for i, entry in enumerate(message.outputs)]
    except InvalidInput as exc:
        raise RemotePredictorError(f"invalid inference response from the predictor: {exc}") from None


def parameters_from_proto(parameters: Mapping[str, InferParameter]) -> dict[str, Any]:
    """``map<string, InferParameter>`` as plain values (an unset parameter is None)."""
    values = {}
    for key, parameter in parameters.items():
        choice = parameter.WhichOneof("parameter_choice")
        values[key] = getattr(parameter, choice) if choice else None
    return values


def parameters_to_proto(values: Mapping[str, Any], parameters: Any) -> None:
    """Plain values into a ``map<string, InferParameter>`` field (bool, int, float, str)."""
    for key, value in values.items():
        for kind, field in _PARAMETER_KINDS:
            if isinstance(value, kind):
                setattr(parameters[key], field, value)
                break
        else:
            raise InvalidInput(f"parameter {key!r}: {type(value).__name__} values cannot be sent over gRPC; "
                               "use a bool, int, float or string")


def _name(value: str, where: str) -> str:
    if not value:
        raise InvalidInput(f"{where}.name must be a non-empty string")
    return value


def _decode_input(entry: Any, raw: bytes | None, index: int) -> InferTensor:
    name = _name(entry.name, f"inputs[{index}]")
    return _decode_tensor(entry, raw, f"input {name!r}")


def _decode_tensor(entry: Any, raw: bytes | None, where: str) -> InferTensor:
    datatype = check_datatype(entry.datatype, where)
    shape = check_shape(list(entry.shape), where)
    parameters = parameters_from_proto(entry.parameters)
    filled = [field.name for field, _ in entry.contents.ListFields()]
    if raw is not None:
        if filled:
            raise InvalidInput(f"{where} has both 'contents' and raw_input_contents; send only one")
        data = array_from_bytes(memoryview(raw), datatype, shape, where)
    else:
        data = _from_contents(entry.contents, filled, datatype, shape, where)
    return InferTensor(name=entry.name, datatype=datatype, shape=shape, data=data, parameters=parameters)


def _from_contents(contents: InferTensorContents, filled: list[str], datatype: str, shape: list[int],
                   where: str) -> np.ndarray:
    field = CONTENTS_FIELD.get(datatype)
    if field is None:
        raise InvalidInput(f"{where}: {datatype} has no typed 'contents' field; send it as raw_input_contents")
    wrong = [name for name in filled if name != field]
    if wrong:
        raise InvalidInput(f"{where} is {datatype} but its data is in contents.{wrong[0]}; use contents.{field}")
    values = list(getattr(contents, field))
    count = element_count(shape)
    if len(values) != count:
        raise InvalidInput(f"{where} has shape {shape} ({count} elements) but contents.{field} holds "
                           f"{len(values)} elements")
    if datatype != "BYTES":
        return array_from_json(values, datatype, shape, where)  # range checks (INT8 in int_contents...)
    array = np.empty(count, dtype=object)
    array[:] = values
    return array.reshape(shape)


def _encode_tensors(tensors: list[InferTensor], entries: Any, raw: bool, kind: str) -> list[bytes]:
    """Add each tensor to the ``entries`` repeated field; returns the raw contents (when ``raw``)."""
    chunks = []
    for tensor in tensors:
        where = f"{kind} {tensor.name!r}"
        shape = [int(d) for d in tensor.shape]
        array = output_array(tensor.data, tensor.datatype, shape, where)
        entry = entries.add(name=tensor.name, datatype=tensor.datatype, shape=shape)
        parameters_to_proto(tensor.parameters, entry.parameters)
        if raw:
            chunks.append(array_to_bytes(array, tensor.datatype, where))
        else:
            getattr(entry.contents, CONTENTS_FIELD[tensor.datatype]).extend(_typed_values(array, tensor.datatype))
    return chunks


def _typed_values(array: np.ndarray, datatype: str) -> list:
    values = array.reshape(-1).tolist()
    if datatype == "BYTES":
        return [v.encode("utf-8") if isinstance(v, str) else v for v in values]
    return values
