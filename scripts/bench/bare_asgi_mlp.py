"""The floor for kfunc's server: a bare ASGI app on the same gunicorn worker and parser, serving
examples/mlp's network over V2 JSON with no framework (orjson -> numpy -> torch -> orjson).

    gunicorn -k asgi --http-parser fast --workers 2 scripts.bench.bare_asgi_mlp:app

It answers V2 ``POST /v2/models/mlp/infer`` and V1 ``:predict`` (any POST, by its body) and
``GET /v2/health/ready``.
"""
from __future__ import annotations

import os

import numpy as np
import orjson
import torch

from scripts.bench.workloads import load_module, mlp

torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
network = load_module(mlp().function_dir / "func.py", "_bench_mlp_func").build()
torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
JSON = [(b"content-type", b"application/json")]


async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    if scope["method"] == "GET":
        await send({"type": "http.response.start", "status": 200, "headers": JSON})
        await send({"type": "http.response.body", "body": b'{"ready":true}'})
        return
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    request = orjson.loads(body)
    if "instances" in request:  # V1
        answer = orjson.dumps({"predictions": forward(np.asarray(request["instances"], dtype=np.float32)).tolist()})
    else:
        tensor = request["inputs"][0]
        result = forward(np.asarray(tensor["data"], dtype=np.float32).reshape(tensor["shape"]))
        answer = orjson.dumps({"model_name": "mlp", "outputs": [
            {"name": "output-0", "datatype": "FP32", "shape": list(result.shape), "data": result.ravel().tolist()}]})
    await send({"type": "http.response.start", "status": 200, "headers": JSON})
    await send({"type": "http.response.body", "body": answer})


def forward(rows: np.ndarray) -> np.ndarray:
    with torch.inference_mode():
        return network(torch.from_numpy(rows)).numpy()
