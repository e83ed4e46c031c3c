"""What kfunc's request path costs, counted rather than timed: Python bytecodes executed per V2
JSON request, per function, through ``KFuncApp`` in this process, for a predictor that does no
work (so only the framework is counted), next to the bare ASGI app's decode and encode.

    .venv/bin/python -m scripts.bench.hotpath [--requests 200] [--top 30] [--logging]

Counts do not drift with the machine's speed, so a change to the request path can be compared
with the one before it on any day (timings on this shared 2-core machine move by 20% from one
minute to the next). They are a proxy: a bytecode that calls into C (orjson, numpy) counts once.
``--logging`` turns payload logging on (``mode: all``, JSON batches) to a sink that is never
reached within the run, and counts its share of the request path too.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
from collections import Counter
from pathlib import Path
from types import FrameType
from typing import Any, Callable

import numpy as np
import orjson

FUNC_PY = '''
import numpy as np
from functions import Tensor, predictor

OUT = np.zeros((1, 10), dtype=np.float32)


@predictor(inputs=[Tensor("input-0", "FP32", [-1, 64])], outputs=[Tensor("output-0", "FP32", [-1, 10])])
def predict(x):
    return OUT
'''
LOGGER_YAML = "logger:\n  encoding: batch\n  batch:\n    max-events: 500\n    max-delay: 0.2\n"
BODY = orjson.dumps({"inputs": [{"name": "input-0", "datatype": "FP32", "shape": [1, 64], "data": [0.5] * 64}]})
SCOPE = {"type": "http", "method": "POST", "path": "/v2/models/mlp/infer", "http_version": "1.1",
         "headers": [(b"host", b"bench"), (b"content-type", b"application/json"),
                     (b"content-length", str(len(BODY)).encode())]}
App = Callable[[dict, Callable, Callable], Any]


async def bare_app(scope: dict, receive: Callable, send: Callable) -> None:
    """The bare ASGI app's request path (``bare_asgi_mlp``) with the same do-nothing model."""
    message = await receive()
    request = orjson.loads(message["body"])
    tensor = request["inputs"][0]
    np.asarray(tensor["data"], dtype=np.float32).reshape(tensor["shape"])
    result = np.zeros((1, 10), dtype=np.float32)
    answer = orjson.dumps({"model_name": "mlp", "outputs": [
        {"name": "output-0", "datatype": "FP32", "shape": list(result.shape), "data": result.ravel().tolist()}]})
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": answer})


def kfunc_app(directory: Path, logging: bool) -> App:
    """``KFuncApp`` for the do-nothing function in ``directory``, with its handlers always inline."""
    (directory / "func.py").write_text(FUNC_PY)
    (directory / "kfunc.yaml").write_text("name: mlp\n" + (LOGGER_YAML if logging else ""))
    os.environ["KFUNC_INLINE_BUDGET_MS"] = "100000"  # traced calls are slow: keep them on this thread
    if logging:
        os.environ.update(KFUNC_LOGGER_URL="http://127.0.0.1:9/", KFUNC_LOGGER_MODE="all")
    from functions import payload_log
    from functions.function import Function
    from functions.server.asgi import KFuncApp

    function = Function.from_directory(directory)
    function.load()
    if logging:
        payload_log.start(function.name, function.logger_settings, function.store_settings, 30)
    return KFuncApp(function)


def count(app: App, requests: int) -> tuple[Counter, list[int]]:
    """Bytecodes per function (``file:function``) over ``requests`` requests, after a warm-up, and
    the statuses answered."""
    statuses: list[int] = []

    async def receive() -> dict:
        return {"type": "http.request", "body": BODY, "more_body": False}

    async def send(message: dict) -> None:
        if message["type"] == "http.response.start":
            statuses.append(message["status"])

    async def serve(n: int) -> None:
        for _ in range(n):
            await app(SCOPE, receive, send)

    asyncio.run(serve(50))
    counts: Counter = Counter()

    def on_call(frame: FrameType, event: str, arg: Any) -> Callable:
        frame.f_trace_opcodes, frame.f_trace_lines = True, False
        return on_opcode

    def on_opcode(frame: FrameType, event: str, arg: Any) -> Callable:
        if event == "opcode":
            code = frame.f_code
            counts["/".join(Path(code.co_filename).parts[-2:]) + ":" + code.co_name] += 1
        return on_opcode

    sys.settrace(on_call)
    try:
        asyncio.run(serve(requests))
    finally:
        sys.settrace(None)
    return counts, statuses[50:]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--top", type=int, default=30, help="functions to list (default 30)")
    parser.add_argument("--logging", action="store_true", help="payload logging on (mode all)")
    args = parser.parse_args(argv)
    bare, _ = count(bare_app, args.requests)
    with tempfile.TemporaryDirectory(prefix="kfunc-hotpath-") as directory:
        counts, statuses = count(kfunc_app(Path(directory), args.logging), args.requests)
    if set(statuses) != {200}:
        print(f"kfunc answered {sorted(set(statuses))}, not only 200", file=sys.stderr)
        return 1
    per_request = sum(counts.values()) / args.requests
    print(f"bytecodes per request: kfunc {per_request:.0f}, bare ASGI app {sum(bare.values()) / args.requests:.0f}")
    for name, total in counts.most_common(args.top):
        print(f"{total / args.requests:8.0f}  {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
