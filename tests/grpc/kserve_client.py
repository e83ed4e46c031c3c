"""Run in its own process by test_kserve_client.py (kserve and tritonclient both register the
``inference`` protos in protobuf's default pool, so they cannot share one): one ModelInfer and
the readiness calls with the kserve client's gRPC mode; prints the answer as JSON."""
from __future__ import annotations

import asyncio
import json
import sys

import numpy as np
from kserve import InferenceGRPCClient, InferInput, InferRequest


async def main(target: str) -> None:
    client = InferenceGRPCClient(target)
    x = InferInput("x", [2, 2], "FP32")
    x.set_data_from_numpy(np.arange(4, dtype=np.float32).reshape(2, 2))
    s = InferInput("s", [1], "BYTES")
    s.set_data_from_numpy(np.array([b"hi"], dtype=object))
    answer = await client.infer(InferRequest(model_name="echo", infer_inputs=[x, s], request_id="k1"))
    outputs = {o.name: o.as_numpy().tolist() for o in answer.outputs if o.datatype != "BYTES"}
    print(json.dumps({"id": answer.id, "outputs": outputs, "ready": await client.is_model_ready("echo")}))
    await client.close()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
