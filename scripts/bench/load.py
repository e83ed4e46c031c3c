"""The load benchmark driver: the targets serve each workload side by side, wrk measures them in turn.

    .venv/bin/python -m scripts.bench.load [--workload mlp minilm] [--target kfunc kserve asgi flask]
        [--protocol v1 v2] [--concurrency 1 8 32] [--duration 10] [--repeats 3] [--workers 1]

Per workload: start every target on it, wait for /v2/health/ready, check each one's answers
against the model run in-process, warm up; then for every protocol and concurrency run wrk
``--repeats`` times round-robin over the targets (so a slow minute on a shared machine hits
them alike); stop the servers. Prints a table of medians per workload, kfunc's overhead
breakdown from its own /metrics, and the issue's bars; writes everything to a JSON file.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from contextlib import ExitStack
from dataclasses import asdict
from importlib import metadata
from pathlib import Path
from typing import Any

from scripts.bench.bars import bars_text, check_bars
from scripts.bench.breakdown import Breakdown, scrape
from scripts.bench.check import MismatchError, check_server
from scripts.bench.report import Cell, breakdown_table, ratios, table
from scripts.bench.servers import ServerError, free_port, serving
from scripts.bench.targets import TARGETS, Launch, ServerSettings, Target
from scripts.bench.workloads import REPO, WORKLOADS, Workload
from scripts.bench.wrk import WrkError, WrkRun, run_wrk, wrk_path

PACKAGES = ("kfunc", "kserve", "torch", "transformers", "flask", "gunicorn", "fastapi", "uvicorn")


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text} is not a positive whole number")
    return value


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="scripts/bench/run.sh", description=__doc__.split("\n")[0])
    parser.add_argument("--target", nargs="+", choices=sorted(TARGETS), default=["kfunc", "kserve", "asgi"],
                        help="servers to measure (default: kfunc kserve asgi; asgi, the bare ASGI MLP app, and "
                             "flask, a hello app without the model, only on the mlp workload)")
    parser.add_argument("--baseline", choices=sorted(TARGETS), default="kserve",
                        help="the server the others are divided by in the ratios (default: kserve)")
    parser.add_argument("--workload", nargs="+", choices=sorted(WORKLOADS), default=["mlp"],
                        help="models to serve, one after the other (default: mlp)")
    parser.add_argument("--protocol", nargs="+", default=["v1", "v2"],
                        help="default: v1 v2 (each workload runs those it speaks)")
    parser.add_argument("--concurrency", nargs="+", type=positive_int, default=[1, 8, 32],
                        help="wrk connections (default: 1 8 32)")
    parser.add_argument("--duration", type=positive_int, default=10, help="seconds per wrk run (default: 10)")
    parser.add_argument("--repeats", type=positive_int, default=3,
                        help="wrk runs per cell; the table shows their median (default: 3)")
    parser.add_argument("--warmup", type=int, default=2,
                        help="seconds of discarded load per target and protocol before measuring; 0 skips (default: 2)")
    parser.add_argument("--workers", type=positive_int, default=1, help="server worker processes, for every target")
    parser.add_argument("--torch-threads", type=positive_int, default=1,
                        help="torch intra-op threads per worker process, for every target (default: 1)")
    parser.add_argument("--threads", type=positive_int, default=None,
                        help="kfunc's threads per worker (default: kfunc's own choice)")
    parser.add_argument("--ready-timeout", type=float, default=180.0, help="seconds to wait for readiness")
    parser.add_argument("--output", type=Path, default=None,
                        help="results JSON (default: .bench/results-<timestamp>.json)")
    args = parser.parse_args(argv)
    args.target = list(dict.fromkeys(args.target))
    args.protocol = list(dict.fromkeys(args.protocol))
    args.workload = list(dict.fromkeys(args.workload))
    spoken = {p for name in args.workload for p in WORKLOADS[name]().probes}
    for protocol in args.protocol:
        if protocol not in spoken:
            parser.error(f"--protocol {protocol}: no chosen workload speaks it (they speak {', '.join(sorted(spoken))})")
    return args


def progress(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def measure_workload(workload: Workload, targets: list[Target], args: argparse.Namespace, scratch: Path,
                     log_dir: Path) -> tuple[list[Cell], dict[str, Launch]]:
    """Serve the workload with every target at once and measure each cell round-robin."""
    reference = workload.reference()
    probes = {p: workload.probes[p] for p in args.protocol if p in workload.probes}
    bodies = {}
    for protocol, probe in probes.items():
        bodies[protocol] = scratch / f"{workload.name}-{protocol}.body"
        bodies[protocol].write_bytes(probe.body)
    settings = ServerSettings(args.workers, args.torch_threads, args.threads)
    launches, urls = {}, {}
    cells = []
    with ExitStack() as stack:
        for target in targets:
            port = free_port()
            launches[target.name] = launch = target.launch(workload, port, settings)
            log_path = log_dir / f"{workload.name}-{target.name}.log"
            env = " ".join(f"{key}={value}" for key, value in launch.env.items())
            progress(f"{workload.name} on {target.name}: {env} {' '.join(launch.argv)}  (log: {log_path})")
            urls[target.name] = stack.enter_context(serving(launch, port, log_path, args.ready_timeout))
        for target in targets:
            if target.serves_model:
                check_server(target.name, urls[target.name], probes, reference)
        for protocol, probe in probes.items():
            def load(target: Target, concurrency: int, seconds: int) -> WrkRun:
                return run_wrk(urls[target.name] + probe.path, bodies[protocol], probe.content_type,
                               concurrency, seconds)
            if args.warmup > 0:
                for target in targets:
                    load(target, max(args.concurrency), args.warmup)
            for concurrency in args.concurrency:
                cells += _cell_round_robin(workload.name, protocol, concurrency, targets, urls, load, args)
    return cells, launches


def _cell_round_robin(workload: str, protocol: str, concurrency: int, targets: list[Target], urls: dict[str, str],
                      load, args: argparse.Namespace) -> list[Cell]:
    runs: dict[str, list[WrkRun]] = {t.name: [] for t in targets}
    before = {t.name: scrape(urls[t.name]) for t in targets if t.metrics}
    for repeat in range(1, args.repeats + 1):
        for target in targets:
            runs[target.name].append(run := load(target, concurrency, args.duration))
            progress(f"{workload} {target.name} {protocol} c={concurrency} run {repeat}/{args.repeats}: "
                     f"{run.requests_per_s:.1f} req/s, p50 {run.p50_ms:.2f} ms, p99 {run.p99_ms:.2f} ms")
    cells = []
    for target in targets:
        breakdown = Breakdown.between(before[target.name], scrape(urls[target.name])) if target.metrics else None
        cells.append(Cell(target.name, protocol, concurrency, tuple(runs[target.name]), workload, breakdown))
    return cells


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
    """Measure every workload in turn; the results document."""
    cells: list[Cell] = []
    launches: dict[str, dict[str, Launch]] = {}
    tables = []
    with tempfile.TemporaryDirectory(prefix="kfunc-bench-") as scratch:
        for name in args.workload:
            workload = WORKLOADS[name]()
            targets = [TARGETS[t] for t in args.target if TARGETS[t].measures(name)]
            found, launches[name] = measure_workload(workload, targets, args, Path(scratch), log_dir)
            cells += found
            tables.append(f"workload {name}\n" + table(found, [t.name for t in targets], args.baseline))
    return {
        "started": started,
        "workloads": args.workload,
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version()},
        "versions": versions(),
        "note": shared_cores_note(),
        "settings": {key: getattr(args, key) for key in
                     ("target", "baseline", "workload", "protocol", "concurrency", "duration", "repeats", "warmup",
                      "workers", "torch_threads", "threads")},
        "servers": {name: {target: {"description": TARGETS[target].description, **asdict(launch)}
                           for target, launch in by_target.items()} for name, by_target in launches.items()},
        "logs": str(log_dir),
        "results": [cell.as_dict() for cell in cells],
        "ratios": ratios(cells, args.baseline),
        "table": "\n\n".join(tables),
        "breakdown": breakdown_table(cells),
        "bars": check_bars(cells),
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
    print(f"{args.workers} worker(s) x {args.torch_threads} torch thread(s) per server, "
          f"{args.duration} s x {args.repeats} run(s) per cell, round-robin (median shown)\n")
    print(document["table"])
    if document["breakdown"]:
        print("\nkfunc per request, mean us from its /metrics (other: routing, headers, metrics, GIL waits; "
              "client p50 includes the network)\n" + document["breakdown"])
    if document["bars"]:
        print("\nbars (kfunc against the reference, same run)\n" + bars_text(document["bars"]))
    print(f"\n{document['note']}\nresults: {output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
