"""Density benchmark: many small models in one function under a memory budget, against the
single-model function and against one server process per model (what a KServe user runs).

    python -m scripts.bench.density [--kind mlp|minilm] [--models 100] [--fit 0.1] [--requests 2000]
                                    [--concurrency 16] [--repeats 3] [--processes 4]
                                    [--output .bench/density.json]

Every model is built from its own seed: an MLP (~1 MiB of weights) or a MiniLM-sized BERT
(~90 MB), as ``scripts/bench/density_models.py`` describes. The multi-model function gets a
``runtime.memory-budget`` that fits ``--fit`` of them (calibrated: the bytes the registry measured
for a few loads, times the models that should fit). Each repeat sends a Zipf(1.1) mix over all
models at ``--concurrency``, samples the registry's resident bytes and the pod's PSS every 100 ms,
then sends the same number of requests to the single-model function. Reported per repeat and as
medians: errors, the highest resident bytes against the budget, the hit rate, the p99 of requests
to a loaded model (those whose answer has no ``Server-Timing: model-load`` entry, i.e. did not
wait for a load) over the single-model p99 of the same repeat, and the memory per model of the
multi-model pod against one process per model. Model swap: loading a model into the running
function (``kfunc_model_load_seconds_total`` per load) against calling the same ``@load`` in this
process.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import requests
from prometheus_client.parser import text_string_to_metric_families

from scripts.bench.density_models import KINDS, ModelKind
from scripts.bench.servers import free_port, serving
from scripts.bench.targets import Launch
from scripts.bench.workloads import REPO

SAMPLE_S = 0.1


def make_functions(root: Path, models: int, kind: ModelKind) -> tuple[Path, Path]:
    """A repository of ``kind`` models (each from its own seed), the multi-model function serving
    it, and a single-model one serving the first of them."""
    for i in range(models):
        (root / "models" / f"m{i:03d}").mkdir(parents=True)
        kind.write(root / "models" / f"m{i:03d}", i)
    multi, single = root / "multi", root / "single"
    for directory, model in ((multi, f"repository: {root / 'models'}"), (single, f"uri: {root / 'models' / 'm000'}")):
        directory.mkdir()
        (directory / "func.py").write_text(kind.func)
        (directory / "kfunc.yaml").write_text(f"name: {directory.name}\nmodel:\n  {model}\n")
    os.sync()  # the repository's writeback (1.8 GB of MiniLM-sized models) would slow the loads measured next
    return multi, single


def kfunc(directory: Path, port: int, workers: int, env: dict[str, str] | None = None,
          threads: int | None = None) -> Launch:
    argv = [str(REPO / ".venv" / "bin" / "python"), "-m", "scaffold.cli", "run", str(directory), "--host", "127.0.0.1",
            "--port", str(port), "--workers", str(workers), *(["--threads", str(threads)] if threads else [])]
    return Launch(argv, env or {})


def samples(url: str, name: str) -> dict[str, float]:
    text = requests.get(url + "/metrics", timeout=10).text
    return {s.labels.get("model", ""): s.value for f in text_string_to_metric_families(text) for s in f.samples
            if s.name == name}


def pod_pss(pids: list[int]) -> int:
    """The PSS of the server's processes, summed."""
    from functions.registry.memory import pss_bytes

    return sum(pss_bytes(pid) for pid in pids)


def server_pids(url: str) -> list[int]:
    """Process ids of the ``kfunc run`` tree serving ``url`` (its command line names the port)."""
    port = int(url.rsplit(":", 1)[1])
    found = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                cmdline = (proc / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if b"scaffold.cli" in cmdline and str(port).encode() in cmdline:
                found.append(int(proc.name))
    return found


def load(url: str, names: list[str], concurrency: int, body: str) -> list[tuple[float, int, bool]]:
    """(seconds, status, whether the model was loaded) of one V2 request (``body``) per entry of
    ``names``, ``concurrency`` at a time."""
    local = threading.local()

    def one(name: str) -> tuple[float, int, bool]:
        session = getattr(local, "session", None) or setattr(local, "session", requests.Session()) or local.session
        started = time.perf_counter()
        answer = session.post(f"{url}/v2/models/{name}/infer", data=body,
                              headers={"Content-Type": "application/json"}, timeout=120)
        return time.perf_counter() - started, answer.status_code, "Server-Timing" not in answer.headers

    with ThreadPoolExecutor(concurrency) as pool:
        return list(pool.map(one, names))


def zipf_names(models: int, count: int, seed: int) -> list[str]:
    weights = 1.0 / np.arange(1, models + 1) ** 1.1
    ranks = np.random.default_rng(seed).choice(models, size=count, p=weights / weights.sum())
    return [f"m{r:03d}" for r in ranks]


def p99_ms(latencies: list[float]) -> float:
    return float(np.percentile(latencies, 99) * 1000)


def calibrate(multi: Path, workers: int, log_dir: Path, count: int = 10) -> tuple[float, float]:
    """(bytes, seconds) the registry measures for loading one model into the running function
    (medians of ``count`` loads, fetch and bookkeeping included)."""
    port = free_port()
    with serving(kfunc(multi, port, workers), port, log_dir / "calibrate.log", 120) as url:
        for i in range(count):
            requests.post(f"{url}/v2/repository/models/m{i:03d}/load", timeout=60).raise_for_status()
        sizes = [v for v in samples(url, "kfunc_model_resident_bytes").values() if v > 0]
        seconds = [v for v in samples(url, "kfunc_model_load_seconds_total").values() if v > 0]
    return statistics.median(sizes), statistics.median(seconds)


def in_process_load_s(multi: Path, count: int = 10) -> float:
    """The median time of the same ``@load`` (``setup``) called directly in this process, per model."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("density_func", multi / "func.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    models = sorted((multi.parent / "models").iterdir())
    module.setup(models[-1])  # torch's first-call set-up is not a load
    times = []
    for model_dir in models[:count]:
        started = time.perf_counter()
        module.setup(model_dir)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def repeat(multi: Path, single: Path, args: argparse.Namespace, budget: int, seed: int, log_dir: Path) -> dict[str, Any]:
    names, body = zipf_names(args.models, args.requests, seed), KINDS[args.kind].body
    port = free_port()
    with serving(kfunc(multi, port, args.workers, {"KFUNC_MEMORY_BUDGET": str(budget)}, args.threads), port,
                 log_dir / f"multi-{seed}.log", 120) as url:
        pids = server_pids(url)
        load(url, [f"m{i:03d}" for i in range(3)], 1, body)  # the first inferences' lazy set-up is not a model's
        baseline_pss = pod_pss(pids)
        resident, pss, stop = [], [], threading.Event()

        def sample() -> None:
            while not stop.is_set():
                resident.append(sum(samples(url, "kfunc_model_resident_bytes").values()))
                pss.append(pod_pss(pids))
                time.sleep(SAMPLE_S)

        sampler = threading.Thread(target=sample)
        sampler.start()
        try:
            answers = load(url, names, args.concurrency, body)
        finally:
            stop.set()
            sampler.join()
        hits = sum(samples(url, "kfunc_model_hits_total").values())
        misses = sum(samples(url, "kfunc_model_misses_total").values())
        evictions = sum(samples(url, "kfunc_model_evictions_total").values())
    port = free_port()
    with serving(kfunc(single, port, args.workers, threads=args.threads), port, log_dir / f"single-{seed}.log",
                 120) as url:
        pids = server_pids(url)
        load(url, ["single"] * 3, 1, body)
        single_baseline = pod_pss(pids)
        single_answers = load(url, ["single"] * args.requests, args.concurrency, body)
        single_growth = pod_pss(pids) - single_baseline  # connections, threads: what is not the models
    loaded = [s for s, _, was_loaded in answers if was_loaded]
    loaded_p99, single_p99 = p99_ms(loaded), p99_ms([s for s, _, _ in single_answers])
    return {"errors": sum(status != 200 for _, status, _ in answers + single_answers),
            "budget_bytes": budget, "max_resident_bytes": max(resident), "samples": len(resident),
            "max_pss_growth_bytes": max(pss) - baseline_pss, "single_model_pss_growth_bytes": single_growth,
            "hit_rate": hits / max(1.0, hits + misses),
            "evictions": evictions, "requests_to_a_loaded_model": len(loaded) / len(answers),
            "p99_ms_loaded_model": loaded_p99, "p99_ms_all_requests": p99_ms([s for s, _, _ in answers]),
            "p99_ms_single_model": single_p99, "p99_ratio_loaded_vs_single": loaded_p99 / single_p99}


def memory_per_model(multi: Path, single: Path, args: argparse.Namespace, log_dir: Path) -> dict[str, float]:
    """PSS per model: ``--processes`` single-model servers (one process each, as one InferenceService
    per model runs) against one multi-model process with as many models loaded."""
    from contextlib import ExitStack

    count, body = min(args.processes, args.models), KINDS[args.kind].body
    with ExitStack() as stack:
        urls = []
        for i in range(count):
            port = free_port()
            urls.append(stack.enter_context(serving(kfunc(single, port, 1), port, log_dir / f"per-model-{i}.log", 120)))
        for url in urls:
            load(url, ["single"], 1, body)
        per_process = statistics.median(pod_pss(server_pids(url)) for url in urls)
    port = free_port()
    with serving(kfunc(multi, port, 1), port, log_dir / "per-model-multi.log", 120) as url:
        load(url, [f"m{i:03d}" for i in range(count)], 1, body)
        shared = pod_pss(server_pids(url))
    return {"models": count, "one_process_per_model_bytes": per_process, "multi_model_bytes_per_model": shared / count,
            "ratio": per_process / (shared / count)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", type=int, default=100)
    parser.add_argument("--kind", choices=sorted(KINDS), default="mlp", help="the models (scripts/bench/density_models.py)")
    parser.add_argument("--fit", type=float, default=0.1, help="share of the models the budget fits")
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--threads", type=int, default=None, help="handler threads per worker (default: kfunc's)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--processes", type=int, default=4, help="single-model servers in the memory comparison")
    parser.add_argument("--output", type=Path, default=REPO / ".bench" / "density.json")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="kfunc-density-") as tmp:
        root = Path(tmp)
        multi, single = make_functions(root, args.models, KINDS[args.kind])
        per_model, swap_s = calibrate(multi, args.workers, root / "logs", min(10, args.models))
        direct_s = in_process_load_s(multi, min(10, args.models))
        budget = int(per_model * max(1, round(args.models * args.fit)))
        runs = [repeat(multi, single, args, budget, seed, root / "logs") for seed in range(args.repeats)]
        memory = memory_per_model(multi, single, args, root / "logs") if args.processes else None
    medians = {key: statistics.median(run[key] for run in runs) for key in runs[0]}
    swap = {"kfunc_load_s": swap_s, "in_process_setup_s": direct_s, "ratio": swap_s / direct_s}
    result = {"settings": vars(args) | {"output": str(args.output)}, "measured_bytes_per_model": per_model, "swap": swap,
              "repeats": runs, "medians": medians, "memory_per_model": memory,
              "bars": {"zero errors": all(run["errors"] == 0 for run in runs),
                       "resident never over the budget": all(run["max_resident_bytes"] <= budget for run in runs),
                       "p99 of a loaded model within 1.5x single-model": medians["p99_ratio_loaded_vs_single"] <= 1.5,
                       "model swap within 1.2x in-process load": swap["ratio"] <= 1.2}}
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2))
    print(json.dumps({"medians": medians, "swap": swap, "memory_per_model": memory, "bars": result["bars"]}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
