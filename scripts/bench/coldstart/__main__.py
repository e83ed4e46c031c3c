"""Cold-start benchmark: time from spawning a process to its first successful inference, for the
floor (bare python + torch), kfunc (warm cache, local path, cold cache from S3) and KServe.

    .venv/bin/python -m scripts.bench.coldstart [--runs 5] [--only floor,kfunc-warm] [--keep]

Runs are interleaved (run 1 of every scenario, then run 2, ...) so that a noisy moment hits all
alike. Prints the medians and their ratios to the floor as a Markdown table on stdout.
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from scripts.bench.workloads import REPO

from .scenarios import FLOOR, FUNCTION_DIR, SCENARIOS, Scenario, Setup
from .store import s3_server, upload


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m scripts.bench.coldstart", description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="starts per scenario (default 5; the median is reported)")
    parser.add_argument("--only", default=None,
                        help=f"comma-separated scenarios (default all: {', '.join(s.name for s in SCENARIOS)})")
    parser.add_argument("--timeout", type=float, default=180.0, help="seconds one start may take")
    parser.add_argument("--keep", action="store_true", help="keep the scratch directory (model, caches, logs)")
    return parser.parse_args(argv)


def chosen_scenarios(only: str | None) -> list[Scenario]:
    if only is None:
        return SCENARIOS
    names = [n.strip() for n in only.split(",") if n.strip()]
    known = {s.name: s for s in SCENARIOS}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise SystemExit(f"--only: unknown scenario {unknown[0]!r}; choose from {', '.join(known)}")
    return [FLOOR, *[known[n] for n in names if n != FLOOR.name]]  # the floor is what ratios are taken to


def prepare(work: Path, s3_env: dict[str, str], timeout_s: float) -> Setup:
    """Generate the model, upload it, and warm one cache directory with ``kfunc cache warm``."""
    sys.path.insert(0, str(FUNCTION_DIR))
    import coldstart_mlp

    model_dir = work / "model"
    coldstart_mlp.generate(model_dir)
    uri = upload(model_dir, s3_env)
    warm_cache = work / "warm-cache"
    subprocess.run([str(Path(sys.executable).with_name("kfunc")), "cache", "warm", uri, "--cache-dir", str(warm_cache)],
                   cwd=REPO, env={**os.environ, **s3_env}, check=True, capture_output=True)
    (work / "logs").mkdir()
    return Setup(model_dir, uri, s3_env, warm_cache, work, coldstart_mlp.IN, timeout_s)


def table(scenarios: list[Scenario], seconds: dict[str, list[float]]) -> str:
    floor = statistics.median(seconds[FLOOR.name])
    rows = ["| start | what | median s | x floor | runs (s) |", "|---|---|---|---|---|"]
    for scenario in scenarios:
        runs = seconds[scenario.name]
        median = statistics.median(runs)
        rows.append(f"| {scenario.name} | {scenario.description} | {median:.2f} | {median / floor:.2f} | "
                    f"{' '.join(f'{r:.2f}' for r in runs)} |")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    scenarios = chosen_scenarios(args.only)
    work = Path(tempfile.mkdtemp(prefix="kfunc-coldstart-"))
    seconds: dict[str, list[float]] = {s.name: [] for s in scenarios}
    try:
        with s3_server(work / "moto.log") as s3_env:
            setup = prepare(work, s3_env, args.timeout)
            for run in range(args.runs):
                for scenario in scenarios:
                    seconds[scenario.name].append(scenario.measure(setup, run))
                    print(f"run {run + 1}/{args.runs} {scenario.name}: {seconds[scenario.name][-1]:.2f} s", file=sys.stderr)
    finally:
        if args.keep:
            print(f"scratch directory kept: {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)
    print(table(scenarios, seconds))
    return 0


if __name__ == "__main__":
    sys.exit(main())
