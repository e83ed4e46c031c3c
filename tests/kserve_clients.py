"""The kserve client's calls, run in a process of their own by ``tests.conftest.kserve_client``:
kserve and tritonclient.grpc register the same ``inference`` protos in protobuf's default pool,
so one pytest process cannot import both.

    python -m tests.kserve_clients CALL '{"json": "arguments"}'   # prints the answer as JSON
"""
from __future__ import annotations

import asyncio
import json
import sys

import numpy as np
from kserve import InferenceGRPCClient, InferenceRESTClient, InferInput, InferRequest, RESTConfig


async def rest_v2(url: str, model: str, rows: list, binary: bool) -> dict:
    client = InferenceRESTClient(RESTConfig(protocol="v2", retries=1))
    tensor = InferInput("input-0", [len(rows), len(rows[0])], "FP32")
    tensor.set_data_from_numpy(np.array(rows, dtype=np.float32), binary_data=binary)
    try:
        answer = await client.infer(url, InferRequest(model, [tensor], request_id="r-1"), model_name=model)
    finally:
        await client.close()
    return {"id": answer.id, "outputs": [o.as_numpy().tolist() for o in answer.outputs]}


async def rest_v1(url: str, model: str, rows: list) -> dict:
    client = InferenceRESTClient(RESTConfig(protocol="v1", retries=1))
    try:
        return await client.infer(url, {"instances": rows}, model_name=model)
    finally:
        await client.close()


async def grpc_echo(target: str) -> dict:
    """One ModelInfer (FP32 and BYTES inputs) and ModelReady against the echo test function."""
    client = InferenceGRPCClient(target)
    x = InferInput("x", [2, 2], "FP32")
    x.set_data_from_numpy(np.arange(4, dtype=np.float32).reshape(2, 2))
    s = InferInput("s", [1], "BYTES")
    s.set_data_from_numpy(np.array([b"hi"], dtype=object))
    try:
        answer = await client.infer(InferRequest(model_name="echo", infer_inputs=[x, s], request_id="k1"))
        ready = await client.is_model_ready("echo")
    finally:
        await client.close()
    outputs = {o.name: o.as_numpy().tolist() for o in answer.outputs if o.datatype != "BYTES"}
    return {"id": answer.id, "outputs": outputs, "ready": ready}


if __name__ == "__main__":
    call = {"rest_v2": rest_v2, "rest_v1": rest_v1, "grpc_echo": grpc_echo}[sys.argv[1]]
    print(json.dumps(asyncio.run(call(**json.loads(sys.argv[2])))))
