"""The bars of the generative issue, measured in one run on real ``kfunc run`` servers.

* Generation (the tiny test LM of ``functions/generation/testing.py``, greedy, streamed completions): one
  list of completions (``--concurrency`` x ``--requests``, max_tokens drawn from ``--lengths``
  with a fixed seed) served to ``--concurrency`` clients and to one client at a time on the same
  server: tokens/s (continuous batching should give >= 3x) and time to first token (p50 <= 2x
  the lone client's).
* Streaming: the delay from a stream's first token to its first chunk written to the connection,
  from the server's own ``kfunc_first_chunk_delay_seconds`` histogram (<= 5 ms).
* Embeddings (examples/minilm): wrk at c=32 on ``/openai/v1/embeddings`` against the V2 path
  (>= 0.95x the sentences/s).

Every ratio is taken within one repeat; the report gives the medians of the repeats.

    .venv/bin/python -m scripts.bench.generation --repeats 3
"""
from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from scripts.bench.servers import free_port, serving
from scripts.bench.targets import Launch
from functions.generation.testing import tiny_causal_lm
from scripts.bench.workloads import REPO, SENTENCE
from scripts.bench.wrk import run_wrk

TINYLM = REPO / "scripts" / "bench" / "funcs" / "tinylm"
MINILM = REPO / "examples" / "minilm"
WITHIN_S = 0.005
SEED = 7


def kfunc(function_dir: Path, port: int, workers: int, env: dict[str, str]) -> Launch:
    return Launch([sys.executable, "-m", "scaffold.cli", "run", str(function_dir), "--port", str(port),
                   "--workers", str(workers)], {"KFUNC_TORCH_THREADS": "1", **env})


def workload(concurrency: int, requests: int, lengths: tuple[int, int]) -> list[tuple[str, int]]:
    """``concurrency * requests`` completions: (prompt, max_tokens), the lengths drawn uniformly
    from ``lengths`` with a fixed seed. The same list serves both runs of a repeat, so the lone
    client and the ``concurrency`` clients ask for the same tokens."""
    draw = random.Random(SEED)
    return [(f"the quick brown fox {n}", draw.randint(*lengths)) for n in range(concurrency * requests)]


async def client(http: Any, url: str, asks: list[tuple[str, int]], results: list[dict[str, float]]) -> None:
    """Stream ``asks`` one after another on one kept-alive connection, timing each one's first chunk."""
    for prompt, max_tokens in asks:
        body = {"model": "tinylm", "prompt": prompt, "max_tokens": max_tokens, "temperature": 0, "stream": True,
                "stream_options": {"include_usage": True}}
        started, first, tail = time.perf_counter(), None, b""
        async with http.post(url + "/openai/v1/completions", json=body) as answer:
            answer.raise_for_status()
            async for raw in answer.content.iter_any():  # body bytes as they come: the first is the first chunk
                if first is None:
                    first = time.perf_counter()
                tail = (tail + raw)[-4096:]  # the usage chunk is the last but one: parse only it
        usage = next(json.loads(e[6:]) for e in reversed(tail.split(b"\n\n")) if e.startswith(b"data: {"))
        results.append({"ttft_s": (first or time.perf_counter()) - started,
                        "tokens": usage["usage"]["completion_tokens"]})


def generation_load(url: str, concurrency: int, asks: list[tuple[str, int]]) -> dict[str, float]:
    """``asks`` spread over ``concurrency`` clients (each its own connection): tokens/s and TTFT p50.

    The client is aiohttp (its C parser): at c=16 httpx's pure-Python HTTP took about a core of
    the two, and its lag reading other streams' chunks showed up as time to first token."""
    import aiohttp

    results: list[dict[str, float]] = []

    async def run() -> None:
        connector = aiohttp.TCPConnector(limit=concurrency)
        async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=120)) as http:
            await asyncio.gather(*(client(http, url, asks[i::concurrency], results) for i in range(concurrency)))

    started = time.perf_counter()
    asyncio.run(run())
    wall = time.perf_counter() - started
    return {"tokens_per_s": sum(r["tokens"] for r in results) / wall,
            "ttft_p50_ms": 1000 * statistics.median(r["ttft_s"] for r in results)}


def server_timeline(url: str) -> dict[str, float]:
    """The server's own generation histograms, summed: time to first token (sum, count) and the
    first-chunk delay (count, and how many were within 5 ms)."""
    from prometheus_client.parser import text_string_to_metric_families

    text = urllib.request.urlopen(url + "/metrics", timeout=10).read().decode()
    found = {"ttft_sum": 0.0, "ttft_count": 0.0, "chunks": 0.0, "chunks_within": 0.0}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "kfunc_time_to_first_token_seconds_sum":
                found["ttft_sum"] += sample.value
            elif sample.name == "kfunc_time_to_first_token_seconds_count":
                found["ttft_count"] += sample.value
            elif sample.name == "kfunc_first_chunk_delay_seconds_count":
                found["chunks"] += sample.value
            elif sample.name == "kfunc_first_chunk_delay_seconds_bucket" and float(sample.labels["le"]) == WITHIN_S:
                found["chunks_within"] += sample.value
    return found


def timed_load(url: str, concurrency: int, asks: list[tuple[str, int]]) -> dict[str, float]:
    """``generation_load`` with the server's own figures for it: mean time to first token and
    the share of streams whose first chunk left within 5 ms of their first token."""
    before = server_timeline(url)
    measured = generation_load(url, concurrency, asks)
    after = server_timeline(url)
    delta = {key: after[key] - before[key] for key in after}
    measured["server_ttft_mean_ms"] = 1000 * delta["ttft_sum"] / max(delta["ttft_count"], 1)
    measured["first_chunk_within_5ms"] = delta["chunks_within"] / max(delta["chunks"], 1)
    return measured


def measure_generation(args: argparse.Namespace, model_dir: Path, log_dir: Path) -> list[dict[str, float]]:
    port = free_port()
    env = {"KFUNC_MODEL_URI": str(model_dir), "TINYLM_MAX_RUNNING": str(args.concurrency),
           "TINYLM_MAX_QUEUED": str(4 * args.concurrency), **({"TINYLM_ENGINE": args.engine} if args.engine else {})}
    repeats = []
    with serving(kfunc(TINYLM, port, 1, env), port, log_dir / "tinylm.log", 120) as url:
        asks = workload(args.concurrency, args.requests, args.lengths)
        generation_load(url, 2, asks[:4])  # warm-up
        for _ in range(args.repeats):
            single = timed_load(url, 1, asks)
            batched = timed_load(url, args.concurrency, asks)
            repeats.append({"single_tokens_per_s": single["tokens_per_s"], "batched_tokens_per_s": batched["tokens_per_s"],
                            "tokens_ratio": batched["tokens_per_s"] / single["tokens_per_s"],
                            "single_ttft_p50_ms": single["ttft_p50_ms"], "batched_ttft_p50_ms": batched["ttft_p50_ms"],
                            "ttft_ratio": batched["ttft_p50_ms"] / single["ttft_p50_ms"],
                            "single_server_ttft_ms": single["server_ttft_mean_ms"],
                            "batched_server_ttft_ms": batched["server_ttft_mean_ms"],
                            "first_chunk_within_5ms": batched["first_chunk_within_5ms"]})
    return repeats


def measure_embeddings(args: argparse.Namespace, log_dir: Path) -> list[dict[str, float]]:
    bodies = {"v2": {"inputs": [{"name": "text", "shape": [1], "datatype": "BYTES", "data": [SENTENCE]}]},
              "openai": {"model": "minilm", "input": SENTENCE, "encoding_format": "base64"}}
    paths = {"v2": "/v2/models/minilm/infer", "openai": "/openai/v1/embeddings"}
    files = {}
    for name, body in bodies.items():
        files[name] = log_dir / f"{name}.json"
        files[name].write_text(json.dumps(body))
    port = free_port()
    repeats = []
    with serving(kfunc(MINILM, port, args.workers, {}), port, log_dir / "minilm.log", 180) as url:
        run_wrk(url + paths["openai"], files["openai"], "application/json", 8, 2)  # warm-up
        for _ in range(args.repeats):
            rates = {name: run_wrk(url + paths[name], files[name], "application/json", 32, args.duration).requests_per_s
                     for name in ("v2", "openai")}
            repeats.append({"v2_sentences_per_s": rates["v2"], "openai_sentences_per_s": rates["openai"],
                            "embeddings_ratio": rates["openai"] / rates["v2"]})
    return repeats


def lengths_range(text: str) -> tuple[int, int]:
    low, _, high = text.partition(":")
    if not (low.isdigit() and high.isdigit() and 0 < int(low) <= int(high)):
        raise argparse.ArgumentTypeError(f"--lengths takes MIN:MAX (1 <= MIN <= MAX), got {text!r}")
    return int(low), int(high)


def medians(repeats: list[dict[str, float]]) -> dict[str, float]:
    return {key: statistics.median(r[key] for r in repeats) for key in repeats[0]} if repeats else {}


def bars(summary: dict[str, float]) -> list[dict[str, Any]]:
    checks = [("tokens/s at c=N >= 3x one at a time", "tokens_ratio", lambda v: v >= 3),
              ("TTFT p50 at c=N <= 2x a lone request's", "ttft_ratio", lambda v: v <= 2),
              ("first SSE chunk within 5 ms of the first token (share of streams, >= 0.95)",
               "first_chunk_within_5ms", lambda v: v >= 0.95),
              ("embeddings /openai/v1 >= 0.95x V2 sentences/s at c=32", "embeddings_ratio", lambda v: v >= 0.95)]
    return [{"bar": text, "value": round(summary[key], 3), "met": ok(summary[key])}
            for text, key, ok in checks if key in summary]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--requests", type=int, default=3, help="streamed completions per client and repeat")
    parser.add_argument("--lengths", type=lengths_range, default=(32, 96), metavar="MIN:MAX",
                        help="max_tokens of each completion, drawn uniformly (64:64: every stream the same length, "
                             "so the clients stay in step and each round's requests arrive as one burst)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--duration", type=int, default=5, help="seconds of wrk per embeddings cell")
    parser.add_argument("--workers", type=int, default=2, help="workers of the embeddings server")
    parser.add_argument("--skip", choices=("generation", "embeddings"), action="append", default=[])
    parser.add_argument("--engine", choices=("thread", "process"),
                        help="where the LM's engine runs (default: CausalLM's, a process on CPU)")
    parser.add_argument("--output", type=Path, help="write the repeats, medians and bars as JSON here")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="kfunc-bench-gen-") as scratch:
        log_dir = Path(scratch)
        repeats: dict[str, list[dict[str, float]]] = {}
        if "generation" not in args.skip:
            repeats["generation"] = measure_generation(args, tiny_causal_lm(log_dir / "tinylm"), log_dir)
        if "embeddings" not in args.skip:
            repeats["embeddings"] = measure_embeddings(args, log_dir)
    summary = {k: v for part in repeats.values() for k, v in medians(part).items()}
    report = {"repeats": repeats, "medians": summary, "bars": bars(summary)}
    if args.output:
        args.output.write_text(json.dumps(report, indent=2))
    for key, value in summary.items():
        print(f"{key:28s} {value:10.3f}")
    for bar in report["bars"]:
        print(f"{'met' if bar['met'] else 'NOT MET':8s} {bar['bar']}: {bar['value']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
