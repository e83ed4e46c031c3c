"""The load benchmark driver: each target in turn serves the workload, wrk measures it.

    .venv/bin/python -m scripts.bench.load [--target kfunc kserve] [--protocol v1 v2]
        [--concurrency 1 8 32] [--duration 10] [--repeats 3] [--workers 1] [--output FILE]

Per target: start the server, wait for /v2/health/ready, check its answers against the model
run in-process, warm up, then run wrk for every protocol and concurrency; stop the server.
Prints a table of medians over the repeats and writes everything to a JSON file.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from dataclasses import asdict
from functools import partial
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from scripts.bench.check import MismatchError, check_server
from scripts.bench.report import Cell, ratios, table
from scripts.bench.servers import ServerError, free_port, serving
from scripts.bench.targets import TARGETS, Launch, ServerSettings, Target
from scripts.bench.workloads import REPO, WORKLOADS, Workload
from scripts.bench.wrk import WrkError, run_wrk, wrk_path

PACKAGES = ("kfunc", "kserve", "torch", "flask", "gunicorn", "fastapi", "uvicorn")


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text} is not a positive whole number")
    return value


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="scripts/bench/run.sh", description=__doc__.split("\n")[0])
    parser.add_argument("--target", nargs="+", choices=sorted(TARGETS), default=["kfunc", "kserve"],
                        help="servers to measure, in this order (default: kfunc kserve)")
    parser.add_argument("--baseline", choices=sorted(TARGETS), default="kserve",
                        help="the server the others are divided by in the ratios (default: kserve)")
    parser.add_argument("--workload", choices=sorted(WORKLOADS), default="mlp")
    parser.add_argument("--protocol", nargs="+", default=["v1", "v2"], help="default: v1 v2")
    parser.add_argument("--concurrency", nargs="+", type=positive_int, default=[1, 8, 32],
                        help="wrk connections (default: 1 8 32)")
    parser.add_argument("--duration", type=positive_int, default=10, help="seconds per wrk run (default: 10)")
    parser.add_argument("--repeats", type=positive_int, default=3,
                        help="wrk runs per cell; the table shows their median (default: 3)")
    parser.add_argument("--warmup", type=int, default=2,
                        help="seconds of discarded load per protocol before measuring; 0 skips (default: 2)")
    parser.add_argument("--workers", type=positive_int, default=1, help="server worker processes, for every target")
    parser.add_argument("--torch-threads", type=positive_int, default=1,
                        help="torch intra-op threads per worker process, for every target (default: 1)")
    parser.add_argument("--threads", type=positive_int, default=None,
                        help="kfunc's threads per worker (default: what the function's kfunc.yaml says)")
    parser.add_argument("--ready-timeout", type=float, default=120.0, help="seconds to wait for readiness")
    parser.add_argument("--output", type=Path, default=None,
                        help="results JSON (default: .bench/results-<timestamp>.json)")
    args = parser.parse_args(argv)
    known = sorted(WORKLOADS[args.workload]().probes)
    for protocol in args.protocol:
        if protocol not in known:
            parser.error(f"--protocol {protocol}: workload {args.workload} speaks {', '.join(known)}")
    args.target = list(dict.fromkeys(args.target))
    args.protocol = list(dict.fromkeys(args.protocol))
    return args


def progress(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def measure(target: Target, workload: Workload, args: argparse.Namespace, bodies: dict[str, Path],
            reference: np.ndarray, log_path: Path) -> tuple[list[Cell], Launch]:
    """Serve the workload with one target and run every protocol x concurrency cell against it."""
    port = free_port()
    launch = target.launch(workload, port, ServerSettings(args.workers, args.torch_threads, args.threads))
    env = " ".join(f"{key}={value}" for key, value in launch.env.items())
    progress(f"{target.name}: {env} {' '.join(launch.argv)}  (log: {log_path})")
    probes = {protocol: workload.probes[protocol] for protocol in args.protocol}
    cells = []
    with serving(launch, port, log_path, args.ready_timeout) as base_url:
        check_server(target.name, base_url, probes, reference)
        for protocol, probe in probes.items():
            load = partial(run_wrk, base_url + probe.path, bodies[protocol], probe.content_type)
            if args.warmup > 0:
                load(max(args.concurrency), args.warmup)
            for concurrency in args.concurrency:
                runs = []
                for repeat in range(1, args.repeats + 1):
                    runs.append(load(concurrency, args.duration))
                    progress(f"{target.name} {protocol} c={concurrency} run {repeat}/{args.repeats}: "
                             f"{runs[-1].requests_per_s:.1f} req/s, p50 {runs[-1].p50_ms:.2f} ms, "
                             f"p99 {runs[-1].p99_ms:.2f} ms")
                cells.append(Cell(target.name, protocol, concurrency, tuple(runs)))
    return cells, launch


def shared_cores_note() -> str:
    return (f"Note: wrk (up to 2 threads) and the server under test share this machine's "
            f"{os.cpu_count()} CPU cores, so absolute figures are below what a separate load "
            "generator would show; compare the ratios, which come from one run on one machine.")


def versions() -> dict[str, str]:
    found = {}
    for package in PACKAGES:
        try:
            found[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            found[package] = "not installed"
    return found


def run(args: argparse.Namespace, log_dir: Path, started: str) -> dict[str, Any]:
    """Measure every target in turn; the results document."""
    workload = WORKLOADS[args.workload]()
    reference = workload.reference()
    cells: list[Cell] = []
    launches: dict[str, Launch] = {}
    with tempfile.TemporaryDirectory(prefix="kfunc-bench-") as scratch:
        bodies = {}
        for protocol in args.protocol:
            bodies[protocol] = Path(scratch) / f"{protocol}.body"
            bodies[protocol].write_bytes(workload.probes[protocol].body)
        for name in args.target:
            found, launches[name] = measure(TARGETS[name], workload, args, bodies, reference,
                                            log_dir / f"{name}.log")
            cells += found
    return {
        "started": started,
        "workload": workload.name,
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version()},
        "versions": versions(),
        "note": shared_cores_note(),
        "settings": {key: getattr(args, key) for key in
                     ("target", "baseline", "protocol", "concurrency", "duration", "repeats", "warmup",
                      "workers", "torch_threads", "threads")},
        "servers": {name: {"description": TARGETS[name].description, **asdict(launch)}
                    for name, launch in launches.items()},
        "logs": str(log_dir),
        "results": [cell.as_dict() for cell in cells],
        "ratios": ratios(cells, args.baseline),
        "table": table(cells, args.target, args.baseline),
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    output = args.output or REPO / ".bench" / f"results-{stamp}.json"
    log_dir = output.parent / f"logs-{stamp}"
    try:
        wrk_path()
        document = run(args, log_dir, stamp)
    except (WrkError, ServerError, MismatchError) as exc:
        print(f"bench: error: {exc}", file=sys.stderr)
        return 1
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(document, indent=2) + "\n")
    print(f"workload {document['workload']}, {args.workers} worker(s) x {args.torch_threads} torch thread(s) "
          f"per server, {args.duration} s x {args.repeats} run(s) per cell (median shown)\n")
    print(document["table"])
    print(f"\n{document['note']}\nresults: {output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
