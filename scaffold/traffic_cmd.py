"""``kfunc traffic``: blue/green, weighted split, tester routes and mirroring through Istio; revision canaries.

``blue-green``, ``switch`` and ``split`` are declarative: their options describe the function's
whole routing, rendered as one VirtualService applied in one server-side apply (so a switch is
atomic), plus the ExternalName Service, the shadow VirtualService when mirroring, and the local
gateway's DestinationRule. ``revisions`` drives the Knative traffic block of one Service.
``--dry-run -o yaml`` prints the objects and nothing else on stdout; notes go to stderr. On a
cluster, every version that gets traffic must exist, every object is dry-run before any is
applied, objects another owner manages are refused unless ``--force``, and what the routing no
longer needs (the shadow VirtualService without ``--mirror``) is deleted.
"""
from __future__ import annotations

import argparse
import sys

from functions.errors import KFuncError
from istio import canary
from istio.destinationrule import GatewayPolicy, destination_rule
from istio.hosts import ISTIO_API, SERVING_API, version_service
from istio.plan import (Retries, TrafficPlan, parse_cookie_route, parse_header_route, parse_mirror, parse_weights,
                        spell_weights)
from istio.status import describe_service, describe_virtual_service
from istio.routing import delete_if_ours
from istio.virtualservice import render, stale_objects
from knative.crd_schema import CrdSchemas
from knative.deploy import load_schemas
from knative.kube import FIELD_MANAGER, Kube
from knative.manifests import to_yaml
from knative.mode_settings import MODES
from knative.ownership import foreign_owner
from knative.validate import validate_objects


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    traffic = subparsers.add_parser("traffic", help="route a function's versions through Istio (blue/green, split, canary)")
    verbs = traffic.add_subparsers(dest="verb", required=True, metavar="VERB")

    blue_green = verbs.add_parser("blue-green", help="route all traffic to one of two Knative Services NAME-blue/NAME-green")
    add_route_options(blue_green)
    blue_green.add_argument("--active", default=None, help="the version serving now (default: the first of --versions)")
    blue_green.set_defaults(func=run_blue_green)

    switch = verbs.add_parser("switch", help="send all traffic to another version in one atomic apply")
    add_route_options(switch)
    switch.add_argument("--to", required=True, help="the version to serve (e.g. green; switch back with blue)")
    switch.set_defaults(func=run_switch)

    split = verbs.add_parser("split", help="weighted split: kfunc traffic split NAME blue=90 green=10")
    add_route_options(split)
    split.add_argument("weights", nargs="+", metavar="VERSION=PERCENT", help="percents summing to 100")
    split.set_defaults(func=run_split)

    status = verbs.add_parser("status", help="show the live split (VirtualService, else the Service's traffic block)")
    status.add_argument("name", help="function name")
    _cluster_options(status)
    status.add_argument("-o", "--output", choices=("yaml",), help="print the live objects instead")
    status.set_defaults(func=run_status)

    revisions = verbs.add_parser("revisions", help="canary between revisions of one Knative Service (tags latest/prev)")
    revisions.add_argument("name", help="Knative Service name")
    revisions.add_argument("action", choices=("canary", "promote", "rollback"))
    revisions.add_argument("percent", nargs="?", type=int, help="canary: percent for the latest revision")
    revisions.add_argument("--revision", help="the last good revision (default: tagged prev, else the one serving 100%%)")
    _cluster_options(revisions)
    _output_options(revisions)
    revisions.set_defaults(func=run_revisions)


def _cluster_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-n", "--namespace", help="namespace (default: the kubeconfig context's; 'default' for --dry-run)")
    parser.add_argument("--kubeconfig", help="kubeconfig file (default: $KUBECONFIG or ~/.kube/config)")
    parser.add_argument("--context", help="kubeconfig context (default: the current one)")


def _output_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--crds", metavar="DIR", help="validate against the CRD YAML files in DIR (default: the cluster's)")
    parser.add_argument("--dry-run", action="store_true", help="validate and print; apply nothing")
    parser.add_argument("-o", "--output", choices=("yaml",), help="with --dry-run: print the objects as YAML, nothing else")
    parser.add_argument("--force", action="store_true",
                        help="take over routing objects another controller or field manager owns")


def add_route_options(parser: argparse.ArgumentParser) -> None:
    """The options every command that renders the whole routing takes (rollout too)."""
    parser.add_argument("name", help="function name; its versions run as Knative Services NAME-VERSION")
    _cluster_options(parser)
    _output_options(parser)
    parser.add_argument("--versions", default="blue,green", help="the function's versions (default: blue,green)")
    parser.add_argument("--mode", choices=MODES, default="knative",
                        help="how the versions were deployed (their deploy.mode): knative (default), raw or keda")
    parser.add_argument("--host", help="public host the ingress gateway answers for (e.g. fn.example.com)")
    parser.add_argument("--header", action="append", default=[], metavar="'NAME=VALUE -> VERSION'",
                        help="send matching requests to VERSION (^= prefix, ~= regex); repeatable")
    parser.add_argument("--cookie", action="append", default=[], metavar="'NAME=VALUE -> VERSION'",
                        help="send requests carrying this cookie to VERSION; repeatable")
    parser.add_argument("--mirror", metavar="VERSION=PERCENT", help="copy PERCENT of split traffic to VERSION, answers discarded")
    parser.add_argument("--timeout", help="per-route timeout (e.g. 30s; default: none)")
    parser.add_argument("--retries", type=int, help="retry attempts per request")
    parser.add_argument("--per-try-timeout", help="timeout of each attempt (e.g. 10s)")
    parser.add_argument("--retry-on", help="Envoy retry conditions, e.g. 5xx,connect-failure")
    parser.add_argument("--max-connections", type=int, default=GatewayPolicy.max_connections, help="gateway connection cap")
    parser.add_argument("--max-pending", type=int, default=GatewayPolicy.max_pending_requests, help="queued requests cap")
    parser.add_argument("--eject-after-5xx", type=int, default=GatewayPolicy.consecutive_5xx,
                        help="eject a gateway pod after this many consecutive 5xx")
    parser.add_argument("--ejection-time", default=GatewayPolicy.base_ejection_time, help="base ejection time (e.g. 30s)")


def note(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


class Target:
    """Where objects go: printed (``--dry-run``) or applied to the cluster after validation.

    On a cluster every object is dry-run before any is applied, so a refusal moves no traffic, and
    an object another owner manages is refused unless ``--force``.
    """

    def __init__(self, args: argparse.Namespace) -> None:
        if args.output and not args.dry_run:
            raise KFuncError("-o/--output only applies with --dry-run; add --dry-run to print the objects")
        self.args = args
        self._schemas: CrdSchemas | None = None
        self.cluster: Kube | None = None
        self.namespace = args.namespace or "default"
        if not args.dry_run:
            self.cluster = Kube.connect(args.kubeconfig, args.context)
            self.namespace = args.namespace or self.cluster.default_namespace

    def check(self, objects: list[dict]) -> None:
        """Validate against the CRDs of ``--crds DIR``, else the cluster's; raise with every problem."""
        if self._schemas is None:  # a rollout checks every step's objects: the same kinds each time
            self._schemas = load_schemas(self.args.crds, self.cluster, objects)
        report = validate_objects(objects, self._schemas)
        report.raise_for_problems()
        for line in report.notes():
            note(line)

    def require_services(self, plan: TrafficPlan) -> None:
        """Every version that gets traffic runs as a Knative Service NAME-VERSION (none to check on a dry run)."""
        if self.cluster is None:
            return
        for version in plan.served_versions():
            service = version_service(plan.function, version)
            if self.cluster.get(SERVING_API, "Service", self.namespace, service) is None:
                raise KFuncError(f"no Knative Service {service!r} in namespace {self.namespace!r} to route {version} to; "
                                 f"deploy it first (a kfunc.yaml with name: {service}) or fix --versions/--to")

    def emit(self, objects: list[dict], summary: str | None, field_manager: str = FIELD_MANAGER,
             stale: tuple[tuple[str, str, str], ...] = (), take_over: bool = False) -> None:
        """Validate, then print (dry run) or dry-run and apply every object in order, then delete the
        ``stale`` (apiVersion, kind, name) objects kfunc made before; ``summary`` is printed after.
        ``take_over`` skips the ownership check (a Knative Service's traffic block, kfunc's own)."""
        self.check(objects)
        if self.cluster is None:
            if self.args.output == "yaml":
                sys.stdout.write(to_yaml(objects))
            else:
                print(f"would apply: {', '.join(_label(o) for o in objects)}")
        else:
            force = take_over or self.args.force
            if not force:
                self._refuse_foreign(objects, field_manager)
            for obj in objects:
                self.cluster.apply(obj, dry_run=True, field_manager=field_manager, force=force)
            for obj in objects:
                self.cluster.apply(obj, field_manager=field_manager, force=force)
                note(f"applied {_label(obj)}")
            for api_version, kind, name in stale:
                if delete_if_ours(self.cluster, api_version, kind, self.namespace, name):
                    note(f"deleted {kind}/{name} (no longer part of the routing)")
        if summary and self.args.output != "yaml":
            print(summary)

    def _refuse_foreign(self, objects: list[dict], field_manager: str) -> None:
        for obj in objects:
            live = self.cluster.get(obj["apiVersion"], obj["kind"], self.namespace, obj["metadata"]["name"])
            owner = live and foreign_owner(live, field_manager)
            if owner:
                raise KFuncError(f"{_label(obj)} in namespace {self.namespace!r} is managed by {owner}; kfunc would "
                                 "take it over and the two would fight: pick another function name, or pass --force")


def _label(obj: dict) -> str:
    return f"{obj['kind']}/{obj['metadata']['name']}"


def plan_from_args(args: argparse.Namespace, namespace: str, weights: dict[str, int]) -> TrafficPlan:
    retries = None
    if args.retries is not None or args.per_try_timeout or args.retry_on:
        retries = Retries(args.retries if args.retries is not None else 2, args.per_try_timeout, args.retry_on)
    routes = [parse_header_route(text) for text in args.header] + [parse_cookie_route(text) for text in args.cookie]
    return TrafficPlan(args.name, namespace, weights, public_host=args.host, header_routes=tuple(routes),
                       mirror=parse_mirror(args.mirror) if args.mirror else None, timeout=args.timeout,
                       retries=retries, versions=versions_of(args), mode=args.mode)


def versions_of(args: argparse.Namespace) -> tuple[str, ...]:
    return tuple(v.strip() for v in args.versions.split(",") if v.strip())


def routing_objects(plan: TrafficPlan, args: argparse.Namespace) -> list[dict]:
    policy = GatewayPolicy(max_connections=args.max_connections, max_pending_requests=args.max_pending,
                           consecutive_5xx=args.eject_after_5xx, base_ejection_time=args.ejection_time)
    gateway_rule = [destination_rule(plan.namespace, policy)] if plan.mode == "knative" else []  # no local gateway else
    return [*render(plan), *gateway_rule]


def _route_all(args: argparse.Namespace, weights: dict[str, int]) -> int:
    target = Target(args)
    plan = plan_from_args(args, target.namespace, weights).with_weights(weights)  # every known version, 0 if unnamed
    target.require_services(plan)
    target.emit(routing_objects(plan, args), f"{plan.function}: {spell_weights(plan.weights)}", stale=stale_objects(plan))
    return 0


def run_blue_green(args: argparse.Namespace) -> int:
    return _route_all(args, {args.active or versions_of(args)[0]: 100})


def run_switch(args: argparse.Namespace) -> int:
    return _route_all(args, {args.to: 100})


def run_split(args: argparse.Namespace) -> int:
    return _route_all(args, parse_weights(args.weights))


def run_status(args: argparse.Namespace) -> int:
    kube = Kube.connect(args.kubeconfig, args.context)
    namespace = args.namespace or kube.default_namespace
    live = kube.get(ISTIO_API, "VirtualService", namespace, args.name)
    describe = describe_virtual_service
    if live is None:
        live, describe = kube.get(SERVING_API, "Service", namespace, args.name), describe_service
    if live is None:
        raise KFuncError(f"no VirtualService or Knative Service {args.name!r} in namespace {namespace!r}; check the name and -n")
    if args.output == "yaml":
        sys.stdout.write(to_yaml([live]))
    else:
        print(describe(live))
    return 0


def run_revisions(args: argparse.Namespace) -> int:
    if (args.action == "canary") != (args.percent is not None):
        raise KFuncError("give a percent with canary only: kfunc traffic revisions NAME canary 10")
    target = Target(args)
    if target.cluster is None and args.revision:
        service = {"metadata": {"name": args.name, "namespace": target.namespace}}
    elif target.cluster is None:
        raise KFuncError("--dry-run without a cluster needs --revision NAME (the last good revision)")
    else:
        service = target.cluster.get(SERVING_API, "Service", target.namespace, args.name)
        if service is None:
            raise KFuncError(f"no Knative Service {args.name!r} in namespace {target.namespace!r}")
    if args.action == "canary":
        patch = canary.canary(service, args.percent, args.revision)
    elif args.action == "promote":
        patch = canary.promote(service)
    else:
        patch = canary.rollback(service, args.revision)
    split = ", ".join(f"{t.get('revisionName') or 'latest'} {t['percent']}% (tag {t['tag']})" for t in patch["spec"]["traffic"])
    target.emit([patch], f"{args.name}: {split}", field_manager=canary.TRAFFIC_FIELD_MANAGER, take_over=True)
    return 0
