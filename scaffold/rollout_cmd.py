"""``kfunc rollout NAME --to green --steps 5,25,50,100 --interval 60s --max-error-rate 1% --max-p99 300ms``.

Each step applies the whole routing (as ``kfunc traffic split``) with the new weights, waits the
interval, and analyses the new version from Prometheus or a metrics URL; a failed check sends
all traffic back to the version that served before and exits 1. ``--dry-run`` prints the plan,
``--dry-run -o yaml`` every step's objects.
"""
from __future__ import annotations

import argparse
import sys
import time

from functions.errors import KFuncError
from istio.metrics import MetricsSource, MetricsUrlSource, PrometheusSource
from istio.plan import TrafficPlan
from istio.virtualservice import stale_objects
from istio.rollout import RolloutController, RolloutPlan, Thresholds, parse_percent, parse_seconds, parse_steps
from knative.manifests import to_yaml

from . import traffic_cmd


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    rollout = subparsers.add_parser("rollout", help="move traffic to a new version step by step, rolling back on bad metrics")
    traffic_cmd.add_route_options(rollout)
    rollout.add_argument("--to", required=True, help="the version to roll out (e.g. green)")
    rollout.add_argument("--from", dest="source", help="the version serving now (default: the other of --versions)")
    rollout.add_argument("--steps", default="5,25,50,100", help="percents for the new version (default: 5,25,50,100)")
    rollout.add_argument("--interval", default="60s", help="how long each step runs before its analysis (default: 60s)")
    rollout.add_argument("--max-error-rate", default="1%", help="highest 5xx share allowed per step (default: 1%%)")
    rollout.add_argument("--max-p99", help="highest p99 latency allowed per step (e.g. 300ms)")
    rollout.add_argument("--min-requests", type=int, default=1, help="requests a step needs to be judged (default: 1)")
    source = rollout.add_mutually_exclusive_group()
    source.add_argument("--prometheus", metavar="URL", help="Prometheus with Istio's metrics")
    source.add_argument("--metrics-url", metavar="URL", help="a URL answering the kfunc metrics JSON contract")
    rollout.set_defaults(func=run_rollout)


def rollout_plan(args: argparse.Namespace, namespace: str) -> RolloutPlan:
    versions = traffic_cmd.versions_of(args)
    stable = args.source or next((v for v in versions if v != args.to), None)
    if stable is None:
        raise KFuncError(f"--from: no version to roll out from; --versions lists only {args.to}")
    thresholds = Thresholds(parse_percent(args.max_error_rate, "--max-error-rate"),
                            parse_seconds(args.max_p99, "--max-p99") * 1000 if args.max_p99 else None,
                            args.min_requests)
    base = traffic_cmd.plan_from_args(args, namespace, {stable: 100})
    return RolloutPlan(base, stable, args.to, parse_steps(args.steps), parse_seconds(args.interval, "--interval"), thresholds)


def metrics_source(args: argparse.Namespace) -> MetricsSource:
    if args.prometheus:
        return PrometheusSource(args.prometheus)
    if args.metrics_url:
        return MetricsUrlSource(args.metrics_url)
    raise KFuncError("a rollout needs metrics: pass --prometheus URL or --metrics-url URL (or --dry-run to see the plan)")


def log(line: str) -> None:
    print(f"{time.strftime('%H:%M:%S')} {line}", flush=True)


def run_rollout(args: argparse.Namespace) -> int:
    target = traffic_cmd.Target(args)
    plan = rollout_plan(args, target.namespace)
    if target.cluster is None:
        if args.output == "yaml":
            steps = [traffic_cmd.routing_objects(plan.at(percent), args) for percent in plan.steps]
            for objects in steps:
                target.check(objects)
            sys.stdout.write("".join(to_yaml(objects) for objects in steps))
        else:
            print("\n".join(plan.describe()))
        return 0
    source = metrics_source(args)
    target.require_services(plan.at(50))  # both versions must run

    def apply(step: TrafficPlan) -> None:
        target.emit(traffic_cmd.routing_objects(step, args), None, stale=stale_objects(step))

    result = RolloutController(apply, source, log).run(plan)
    return 0 if result.succeeded else 1
