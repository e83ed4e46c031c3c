"""gRPC ModelInfer on the MLP: kfunc (its REST port over h2c, and --grpc-port) against KServe's own
gRPC server (``--enable_grpc``), the same load generator for all, rounds interleaved, medians.

    .venv/bin/python -m scripts.bench.grpc_compare --workers 2 -c 32 -d 10 --repeats 3
"""
from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
from contextlib import ExitStack
from pathlib import Path

from scripts.bench import grpc_load
from scripts.bench.servers import free_port, serving
from scripts.bench.targets import Launch
from scripts.bench.workloads import mlp


def launches(workers: int) -> dict[str, tuple[Launch, int, int]]:
    """name -> (launch, REST port for readiness, gRPC port)."""
    function_dir = str(mlp().function_dir)
    kfunc_rest, kfunc_grpc, kserve_rest, kserve_grpc = (free_port() for _ in range(4))
    kfunc = Launch([sys.executable, "-m", "scaffold.cli", "run", function_dir, "--port", str(kfunc_rest),
                    "--grpc-port", str(kfunc_grpc), "--workers", str(workers)], {"KFUNC_TORCH_THREADS": "1"})
    kserve = Launch([sys.executable, "-m", "scripts.bench.kserve_mlp", "--model_name", "mlp",
                     "--http_port", str(kserve_rest), "--grpc_port", str(kserve_grpc), "--enable_grpc", "true",
                     "--workers", str(workers), "--enable_latency_logging", "false"], {"OMP_NUM_THREADS": "1"})
    return {"kfunc-rest-port": (kfunc, kfunc_rest, kfunc_rest), "kfunc-grpc-port": (kfunc, kfunc_rest, kfunc_grpc),
            "kserve-grpc": (kserve, kserve_rest, kserve_grpc)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("-c", "--concurrency", type=int, default=32)
    parser.add_argument("-d", "--duration", type=float, default=10.0)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    targets = launches(args.workers)
    runs: dict[str, list[dict]] = {name: [] for name in targets}
    with ExitStack() as stack, tempfile.TemporaryDirectory(prefix="kfunc-grpc-bench-") as logs:
        started: dict[int, str] = {}
        for name, (launch, rest, _) in targets.items():
            if rest not in started:
                started[rest] = stack.enter_context(serving(launch, rest, Path(logs) / f"{name}.log", 180))
        for _ in range(args.repeats):
            for name, (_, _, grpc_port) in targets.items():
                runs[name].append(asyncio.run(grpc_load.run(f"127.0.0.1:{grpc_port}", "mlp", "input-0", [1, 64],
                                                            args.concurrency, args.duration, 8, 1.0, False)))
    summary = {name: {"rps": statistics.median(r["rps"] for r in found),
                      "p99_ms": statistics.median(r["p99_ms"] for r in found),
                      "errors": sum(r["errors"] for r in found)} for name, found in runs.items()}
    baseline = summary["kserve-grpc"]["rps"]
    for name, row in summary.items():
        row["x_kserve"] = round(row["rps"] / baseline, 2) if baseline else None
    print(json.dumps({"concurrency": args.concurrency, "workers": args.workers, "median_of": args.repeats,
                      "results": summary}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
