"""Closed-loop gRPC ModelInfer load: N requests in flight for D seconds, against any Open Inference
Protocol gRPC server (kfunc on its REST port or --grpc-port, KServe's ``--enable_grpc`` on 8081).

    python -m scripts.bench.grpc_load --target 127.0.0.1:8081 --model mlp -c 32 -d 10

Each of the ``--concurrency`` loops sends one request, waits for its answer and sends the next,
over ``--connections`` HTTP/2 connections (so several server processes get work). The input is
one FP32 tensor of ``--shape`` in ``raw_input_contents`` (``--typed``: ``fp32_contents``).
Prints one JSON object: requests, errors, req/s, p50 and p99 latency in ms.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import time

import grpc
import numpy as np

from functions.protocol import grpc_codec
from functions.protocol.grpc_gen.open_inference_grpc_pb2_grpc import GRPCInferenceServiceStub
from functions.protocol.v2 import InferTensor


def _request(model: str, name: str, shape: list[int], typed: bool):
    data = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    return grpc_codec.encode_request(model, [InferTensor(name, "FP32", shape, data)], raw=not typed)


async def _loop(stub: GRPCInferenceServiceStub, request, until: float, latencies: list[float], errors: list[str]) -> None:
    while time.perf_counter() < until:
        started = time.perf_counter()
        try:
            await stub.ModelInfer(request)
        except grpc.RpcError as exc:
            errors.append(exc.code().name)
            continue
        latencies.append(time.perf_counter() - started)


async def run(target: str, model: str, input_name: str, shape: list[int], concurrency: int, duration: float,
              connections: int, warmup: float, typed: bool) -> dict:
    request = _request(model, input_name, shape, typed)
    channels = [grpc.aio.insecure_channel(target, options=[("grpc.use_local_subchannel_pool", 1)])
                for _ in range(max(1, min(connections, concurrency)))]
    stubs = [GRPCInferenceServiceStub(channel) for channel in channels]
    try:
        if warmup > 0:
            await asyncio.gather(*(_loop(stubs[i % len(stubs)], request, time.perf_counter() + warmup, [], [])
                                   for i in range(concurrency)))
        latencies: list[float] = []
        errors: list[str] = []
        started = time.perf_counter()
        await asyncio.gather(*(_loop(stubs[i % len(stubs)], request, started + duration, latencies, errors)
                               for i in range(concurrency)))
        elapsed = time.perf_counter() - started
    finally:
        await asyncio.gather(*(channel.close() for channel in channels))
    ms = np.array(latencies) * 1000 if latencies else np.array([np.nan])
    return {"target": target, "concurrency": concurrency, "seconds": round(elapsed, 3), "requests": len(latencies),
            "errors": len(errors), "error_codes": sorted(set(errors)), "rps": round(len(latencies) / elapsed, 1),
            "p50_ms": round(float(np.percentile(ms, 50)), 3), "p99_ms": round(float(np.percentile(ms, 99)), 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", required=True, help="host:port of the gRPC server")
    parser.add_argument("--model", default="mlp")
    parser.add_argument("--input", default="input-0", help="input tensor name (default: input-0)")
    parser.add_argument("--shape", default="1,64", help="FP32 input shape (default: 1,64)")
    parser.add_argument("-c", "--concurrency", type=int, default=32)
    parser.add_argument("-d", "--duration", type=float, default=10.0, help="seconds measured")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--warmup", type=float, default=1.0, help="seconds of load before measuring")
    parser.add_argument("--typed", action="store_true", help="fp32_contents instead of raw_input_contents")
    args = parser.parse_args()
    shape = [int(d) for d in args.shape.split(",")]
    result = asyncio.run(run(args.target, args.model, args.input, shape, args.concurrency, args.duration,
                             args.connections, args.warmup, args.typed))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
