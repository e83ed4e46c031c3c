"""What payload logging costs: the MLP over V2 at c=32 with logging off and on (mode all, to a
local CloudEvents sink), rounds interleaved in one run, medians; events/s the sink received.

    .venv/bin/python -m scripts.bench.logging_cost --workers 2 -c 32 -d 10 --repeats 3

Bars (issue 13): logging on keeps >= 90% of the req/s and its p99 within 1.15x of logging off.
"""
from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import urllib.request
from contextlib import ExitStack
from dataclasses import replace
from pathlib import Path

import yaml

from scripts.bench.servers import free_port, serving
from scripts.bench.targets import Launch, ServerSettings, kfunc_launch
from scripts.bench.workloads import mlp
from scripts.bench.wrk import run_wrk

REQ_S_BAR, P99_BAR = 0.90, 1.15


def sink_launch(port: int) -> Launch:
    return Launch([sys.executable, "-m", "gunicorn", "-k", "gunicorn.workers.gasgi.ASGIWorker", "-w", "1",
                   "-b", f"127.0.0.1:{port}", "scripts.bench.event_sink:app"], {})


def _with_logger(function_dir: Path, target: Path, encoding: str) -> Path:
    """A copy of the function whose kfunc.yaml has a ``logger:`` section (the URL comes from the env)."""
    shutil.copytree(function_dir, target, ignore=shutil.ignore_patterns("__pycache__"))
    config = yaml.safe_load((target / "kfunc.yaml").read_text())
    config["logger"] = {"encoding": encoding, "batch": {"max-events": 500, "max-delay": 0.2}}
    (target / "kfunc.yaml").write_text(yaml.safe_dump(config))
    return target


def _get_json(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=5) as answer:
        return json.loads(answer.read())


def _logger_counts(base_url: str) -> dict[str, float]:
    """``kfunc_logger_events_total`` by outcome, from the server's /metrics."""
    from prometheus_client.parser import text_string_to_metric_families

    with urllib.request.urlopen(base_url + "/metrics", timeout=5) as answer:
        text = answer.read().decode()
    return {s.labels["outcome"]: s.value for family in text_string_to_metric_families(text)
            for s in family.samples if s.name == "kfunc_logger_events_total"}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("-c", "--concurrency", type=int, default=32)
    parser.add_argument("-d", "--duration", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--encoding", choices=("binary", "batch"), default="batch",
                        help="logger.encoding: an event a POST (KServe's), or JSON batches (default)")
    args = parser.parse_args()
    workload = mlp()
    probe = workload.probes["v2"]
    settings = ServerSettings(workers=args.workers)
    ports = {"off": free_port(), "on": free_port()}
    sink_port = free_port()
    runs: dict[str, list] = {"off": [], "on": []}
    events_per_s = []
    with ExitStack() as stack, tempfile.TemporaryDirectory(prefix="kfunc-logging-bench-") as scratch:
        logs = Path(scratch)
        body = logs / "body.json"
        body.write_bytes(probe.body)
        sink = stack.enter_context(serving(sink_launch(sink_port), sink_port, logs / "sink.log", 60, ready_path="/count"))
        urls = {}
        logged = replace(workload, function_dir=_with_logger(workload.function_dir, logs / "mlp-logged", args.encoding))
        for mode, port in ports.items():
            launch = kfunc_launch(logged if mode == "on" else workload, port, settings)
            if mode == "on":
                launch = Launch(launch.argv, {**launch.env, "KFUNC_LOGGER_URL": sink + "/", "KFUNC_LOGGER_MODE": "all"})
            urls[mode] = stack.enter_context(serving(launch, port, logs / f"kfunc-{mode}.log", 180))
        for mode in ("off", "on"):  # warm both
            run_wrk(urls[mode] + probe.path, body, probe.content_type, args.concurrency, 2)
        for _ in range(args.repeats):
            for mode in ("off", "on"):
                before = _get_json(sink + "/count")["events"]
                run = run_wrk(urls[mode] + probe.path, body, probe.content_type, args.concurrency, args.duration)
                runs[mode].append(run)
                if mode == "on":
                    events_per_s.append((_get_json(sink + "/count")["events"] - before) / args.duration)
        counts = _logger_counts(urls["on"])
    summary = {mode: {"requests_per_s": statistics.median(r.requests_per_s for r in rs),
                      "p50_ms": statistics.median(r.p50_ms for r in rs),
                      "p99_ms": statistics.median(r.p99_ms for r in rs),
                      "errors": sum(r.errors for r in rs)} for mode, rs in runs.items()}
    req_ratio = summary["on"]["requests_per_s"] / summary["off"]["requests_per_s"]
    p99_ratio = summary["on"]["p99_ms"] / summary["off"]["p99_ms"]
    report = {"workload": "mlp", "protocol": "v2", "concurrency": args.concurrency, "workers": args.workers,
              "median_of": args.repeats, "duration_s": args.duration, **summary,
              "events_per_s_delivered": statistics.median(events_per_s), "logger_events": counts,
              "round_ratios": [round(on.requests_per_s / off.requests_per_s, 3) for off, on in zip(runs["off"], runs["on"])],
              "bars": [{"bar": f"req/s on/off >= {REQ_S_BAR}", "ratio": round(req_ratio, 3), "met": req_ratio >= REQ_S_BAR},
                       {"bar": f"p99 on/off <= {P99_BAR}", "ratio": round(p99_ratio, 3), "met": p99_ratio <= P99_BAR}]}
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
