"""Open Inference Protocol (KServe V2) REST inference messages <-> numpy tensors.

Pure functions over bytes, with the binary tensor data extension (see ``binary.py``) in both
directions: the server decodes requests and encodes responses, the remote-predictor client
and ``kfunc invoke`` encode requests and decode responses. BYTES tensors are object arrays of
``str`` (from JSON) or ``bytes`` (from binary data). The codec consumes the extension's
``binary_data_size`` and ``binary_data`` tensor parameters; every other parameter passes through,
``binary_data_output`` included (``InferRequest.wants_binary`` reads it from there).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import orjson

from ..errors import InvalidInput, KFuncError, RemotePredictorError
from .binary import HEADER_LENGTH, BinaryReader, array_from_bytes, array_to_bytes
from .tensor_data import array_from_json, array_to_json, check_datatype, check_shape, output_array

JSON = "application/json"
OCTET_STREAM = "application/octet-stream"


@dataclass
class InferTensor:
    """One input or output tensor; ``data`` is an array of ``shape`` in ``datatype``'s dtype."""

    name: str
    datatype: str
    shape: list[int]
    data: np.ndarray
    parameters: dict = field(default_factory=dict)


@dataclass
class RequestedOutput:
    """An output named in a request; ``binary`` is its ``binary_data`` parameter (None: not given)."""

    name: str
    binary: bool | None = None
    parameters: dict = field(default_factory=dict)


@dataclass
class InferRequest:
    """A decoded inference request."""

    id: str | None
    inputs: list[InferTensor]
    outputs: list[RequestedOutput] = field(default_factory=list)
    parameters: dict = field(default_factory=dict)

    def wants_binary(self, output_name: str) -> bool:
        """Whether ``output_name`` goes back as binary data: its own ``binary_data``, else the
        request's ``parameters.binary_data_output``, else JSON."""
        for output in self.outputs:
            if output.name == output_name and output.binary is not None:
                return output.binary
        return bool(self.parameters.get("binary_data_output", False))


def decode_request(body: bytes, header_length: int | None) -> InferRequest:
    """An inference request body (``header_length``: the Inference-Header-Content-Length header).

    Raises InvalidInput naming the field when anything about the request is wrong.
    """
    reader = BinaryReader(body, header_length)
    header = _parse_header(reader.header, "request")
    request_id = header.get("id")
    if request_id is not None and not isinstance(request_id, str):
        raise InvalidInput(f"'id' must be a string, got {request_id!r}")
    parameters = _parameters(header.get("parameters"), "request 'parameters'")
    binary_output = parameters.get("binary_data_output", False)
    if not isinstance(binary_output, bool):
        raise InvalidInput(f"parameters.binary_data_output must be true or false, got {binary_output!r}")
    if "inputs" not in header:
        raise InvalidInput("the request has no 'inputs': send a list of input tensors")
    inputs = _decode_tensors(header["inputs"], "input", reader)
    reader.finish()
    return InferRequest(
        id=request_id,
        inputs=inputs,
        outputs=_requested_outputs(header.get("outputs")),
        parameters=parameters,
    )


def encode_response(
    model_name: str,
    model_version: str | None,
    request: InferRequest,
    outputs: list[InferTensor],
    parameters: dict | None = None,
) -> tuple[bytes, dict[str, str]]:
    """The response body and headers for ``outputs``, as ``request`` selected and asked for them.

    Only the requested outputs are sent (all when none were named), in the requested order; an
    unknown requested name is InvalidInput. Binary outputs carry ``binary_data_size`` and no
    ``data``; JSON ``data`` is flat row-major, non-finite floats as ``null``.
    """
    selected = select_outputs(request, outputs)
    header = _without_nulls({"model_name": model_name, "model_version": model_version, "id": request.id,
                             "parameters": parameters or None})
    entries, chunks = _encode_tensors(selected, [request.wants_binary(t.name) for t in selected], "output")
    header["outputs"] = entries
    return _message(header, chunks)


def encode_request(
    inputs: list[InferTensor],
    *,
    binary: bool,
    request_id: str | None = None,
    outputs: list[RequestedOutput] | None = None,
    parameters: dict | None = None,
) -> tuple[bytes, dict[str, str]]:
    """An inference request body and headers; ``binary`` sends every input as binary data.

    Binary outputs are asked for per output (``RequestedOutput.binary``) or for all with
    ``parameters={"binary_data_output": True}``.
    """
    header = _without_nulls({"id": request_id, "parameters": parameters or None})
    header["inputs"], chunks = _encode_tensors(inputs, [binary] * len(inputs), "input")
    if outputs:
        header["outputs"] = [_requested_output_entry(output) for output in outputs]
    return _message(header, chunks)


def decode_response(body: bytes, header_length: int | None) -> tuple[dict, list[InferTensor]]:
    """A response body as (its JSON header without ``outputs``, the output tensors).

    Raises RemotePredictorError when the response is malformed.
    """
    try:
        reader = BinaryReader(body, header_length)
        header = _parse_header(reader.header, "response")
        if "outputs" not in header:
            raise InvalidInput("it has no 'outputs'")
        outputs = _decode_tensors(header.pop("outputs"), "output", reader)
        reader.finish()
    except InvalidInput as exc:
        raise RemotePredictorError(f"invalid inference response from the predictor: {exc}") from None
    return header, outputs


def _parse_header(raw: memoryview, what: str) -> dict:
    try:
        header = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidInput(f"the {what} JSON is malformed: {exc}") from None
    if not isinstance(header, dict):
        raise InvalidInput(f"the {what} must be a JSON object, got {type(header).__name__}")
    return header


def _parameters(value: Any, where: str) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidInput(f"{where} must be a JSON object, got {value!r}")
    return value


def _name(entry: Any, where: str) -> str:
    if not isinstance(entry, dict):
        raise InvalidInput(f"{where} must be a JSON object, got {type(entry).__name__}")
    name = entry.get("name")
    if not isinstance(name, str) or not name:
        raise InvalidInput(f"{where}.name must be a non-empty string, got {name!r}")
    return name


def check_unique(names: list[str], kind: str) -> None:
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise InvalidInput(f"{kind} {name!r} appears more than once; tensor names must be unique")
        seen.add(name)


def _decode_tensors(entries: Any, kind: str, reader: BinaryReader) -> list[InferTensor]:
    if not isinstance(entries, list):
        raise InvalidInput(f"'{kind}s' must be a list of tensors, got {type(entries).__name__}")
    tensors = [_decode_tensor(entry, index, kind, reader) for index, entry in enumerate(entries)]
    if len(tensors) > 1:
        check_unique([t.name for t in tensors], kind)
    return tensors


def _decode_tensor(entry: Any, index: int, kind: str, reader: BinaryReader) -> InferTensor:
    name = _name(entry, f"{kind}s[{index}]")
    where = f"{kind} {name!r}"
    datatype = check_datatype(entry.get("datatype"), where)
    shape = check_shape(entry.get("shape"), where)
    given = entry.get("parameters")
    parameters = {} if given is None else dict(_parameters(given, f"{where} 'parameters'"))
    has_data = entry.get("data") is not None
    if "binary_data_size" in parameters:
        if has_data:
            raise InvalidInput(f"{where} has both 'data' and parameters.binary_data_size; send only one")
        raw = reader.take(parameters.pop("binary_data_size"), where)
        data = array_from_bytes(raw, datatype, shape, where)
    elif has_data:
        data = array_from_json(entry["data"], datatype, shape, where)
    else:
        raise InvalidInput(f"{where} has no 'data' (and no parameters.binary_data_size for binary data)")
    return InferTensor(name=name, datatype=datatype, shape=shape, data=data, parameters=parameters)


def _requested_outputs(entries: Any) -> list[RequestedOutput]:
    if entries is None:
        return []
    if not isinstance(entries, list):
        raise InvalidInput(f"'outputs' must be a list of requested outputs, got {type(entries).__name__}")
    outputs = []
    for index, entry in enumerate(entries):
        name = _name(entry, f"outputs[{index}]")
        parameters = dict(_parameters(entry.get("parameters"), f"requested output {name!r} 'parameters'"))
        binary = parameters.pop("binary_data", None)
        if binary is not None and not isinstance(binary, bool):
            raise InvalidInput(
                f"requested output {name!r}: parameters.binary_data must be true or false, got {binary!r}"
            )
        outputs.append(RequestedOutput(name=name, binary=binary, parameters=parameters))
    check_unique([o.name for o in outputs], "requested output")
    return outputs


def _requested_output_entry(output: RequestedOutput) -> dict:
    parameters = dict(output.parameters)
    if output.binary is not None:
        parameters["binary_data"] = output.binary
    return _without_nulls({"name": output.name, "parameters": parameters or None})


def select_outputs(request: InferRequest, outputs: list[InferTensor]) -> list[InferTensor]:
    if not request.outputs:
        return outputs
    by_name = {t.name: t for t in outputs}
    unknown = [o.name for o in request.outputs if o.name not in by_name]
    if unknown:
        raise InvalidInput(
            f"requested output {unknown[0]!r} is not an output of this model; it has {', '.join(by_name) or 'none'}"
        )
    return [by_name[o.name] for o in request.outputs]


def _encode_tensors(tensors: list[InferTensor], binary: list[bool], kind: str) -> tuple[list[dict], list[bytes]]:
    """JSON entries for ``tensors`` and the binary chunks that follow the header, in order."""
    entries, chunks = [], []
    for tensor, as_binary in zip(tensors, binary):
        where = f"{kind} {tensor.name!r}"
        shape = [int(d) for d in tensor.shape]
        array = output_array(tensor.data, tensor.datatype, shape, where)
        parameters = {k: v for k, v in tensor.parameters.items() if k != "binary_data_size"}
        entry = {"name": tensor.name, "datatype": tensor.datatype, "shape": shape}
        if as_binary:
            chunk = array_to_bytes(array, tensor.datatype, where)
            parameters["binary_data_size"] = len(chunk)
            chunks.append(chunk)
        else:
            entry["data"] = array_to_json(array, tensor.datatype, where)
        if parameters:
            entry["parameters"] = parameters
        entries.append(entry)
    return entries, chunks


def _message(header: dict, chunks: list[bytes]) -> tuple[bytes, dict[str, str]]:
    """The body (JSON header, then binary chunks) and its Content-Type/Inference-Header-Content-Length."""
    try:
        encoded = orjson.dumps(header, option=orjson.OPT_SERIALIZE_NUMPY)
    except orjson.JSONEncodeError as exc:
        raise KFuncError(f"the inference message cannot be written as JSON: {exc}") from None
    if not chunks:
        return encoded, {"Content-Type": JSON}
    return b"".join([encoded, *chunks]), {"Content-Type": OCTET_STREAM, HEADER_LENGTH: str(len(encoded))}


def _without_nulls(fields: dict) -> dict:
    return {k: v for k, v in fields.items() if v is not None}
