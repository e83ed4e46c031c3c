"""``kfunc invoke --format grpc``: one ModelInfer over the Open Inference Protocol's gRPC service."""
from __future__ import annotations

import json
from typing import Any

import numpy as np

from functions.datatypes import to_numpy_dtype
from functions.errors import ConfigError
from functions.grpc_client import GrpcInferenceClient
from functions.protocol import grpc_codec
from functions.protocol.tensor_data import array_to_json
from functions.protocol.v2 import InferTensor


def invoke_grpc(target: str, name: str, data: Any) -> dict:
    """The answer of ``name`` at ``target`` (host:port) to ``data`` (a V2 ``{"inputs": [...]}`` body, or
    the first declared input's values; None: zeros shaped like it), as the REST V2 answer's JSON."""
    client = GrpcInferenceClient(target, timeout=120)
    if isinstance(data, dict) and "inputs" in data:
        inputs = [_tensor(entry.get("name"), entry.get("datatype"), entry.get("data")) for entry in data["inputs"]]
    else:
        first = _first_input(client, name)
        inputs = [_tensor(first.name, first.datatype, data if data is not None else _zeros(first))]
    answer = client.infer(grpc_codec.encode_request(name, inputs, raw=True))
    outputs = [{"name": t.name, "datatype": t.datatype, "shape": t.shape,
                "data": _json(array_to_json(_text(t), t.datatype, t.name))} for t in grpc_codec.decode_response(answer)]
    return {"model_name": answer.model_name, "model_version": answer.model_version, "id": answer.id, "outputs": outputs}


def _first_input(client: GrpcInferenceClient, name: str) -> Any:
    metadata = client.model_metadata(name)
    if not metadata.inputs:
        raise ConfigError(f"model {name!r} declares no inputs; pass --data '{{\"inputs\": [...]}}' with named tensors")
    return metadata.inputs[0]


def _zeros(tensor: Any) -> list:
    shape = [1 if d < 0 else d for d in tensor.shape]
    return np.full(shape, "", dtype=object).tolist() if tensor.datatype == "BYTES" else np.zeros(shape).tolist()


def _tensor(name: Any, datatype: Any, values: Any) -> InferTensor:
    if not isinstance(name, str) or not isinstance(datatype, str) or values is None:
        raise ConfigError("--data: each of 'inputs' needs a 'name', a 'datatype' and 'data'")
    dtype = to_numpy_dtype(datatype)
    array = np.asarray(values, dtype=dtype) if datatype != "BYTES" else np.asarray(values, dtype=object)
    return InferTensor(name=name, datatype=datatype, shape=list(array.shape), data=array)


def _text(tensor: InferTensor) -> np.ndarray:
    if tensor.datatype != "BYTES":
        return tensor.data
    return np.vectorize(lambda b: b.decode("utf-8", "replace"), otypes=[object])(tensor.data)


def _json(value: Any) -> Any:
    return json.loads(json.dumps(value.tolist() if isinstance(value, np.ndarray) else value))
