"""``kfunc deploy``, ``kfunc describe`` and ``kfunc delete``: a function as Knative Services (or, with
``--mode``/``deploy.mode`` raw or keda, a Deployment, Service and autoscaler).

``add_parser(subparsers)`` adds the three commands; each sets ``func`` to a handler taking the
parsed arguments and returning the exit status. Failures are raised as KFuncError (the CLI prints
them). ``--dry-run`` writes only the YAML to stdout; progress and notes go to stderr.
"""
from __future__ import annotations

import argparse
import json
import sys

from functions.errors import KFuncError
from istio.routing import delete_routing, routes_to
from knative import deploy as pipeline
from knative.inventory import delete_function, describe
from knative.autoscaling import ServingLimits
from knative.cache_warm import WARM_MODES
from knative.crd_schema import CrdSchemas
from knative.kube import Kube
from knative.manifests import Rendered, to_yaml
from knative.mode_settings import MODES
from knative.rbac import ROLE_NAME, deployer_roles


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register ``deploy``, ``describe`` and ``delete`` on the ``kfunc`` command line."""
    deploy = subparsers.add_parser("deploy", help="render, validate and apply the function (a Knative Service, or --mode raw|keda)")
    deploy.add_argument("path", nargs="?", default=".", help="function directory (default: .)")
    deploy.add_argument("-n", "--namespace", help="namespace (default: deploy.namespace, else the kubeconfig context's)")
    deploy.add_argument("--image", help="container image (default: deploy.image)")
    deploy.add_argument("--mode", choices=MODES,
                        help="knative (default), raw (Deployment + Service + HPA) or keda (scale to zero via KEDA); "
                             "default: deploy.mode")
    deploy.add_argument("--split", action="store_true", default=None,
                        help="deploy transformer and predictor as two Services")
    deploy.add_argument("--crds", metavar="DIR", help="validate against the CRD YAML files in DIR (default: the cluster's)")
    deploy.add_argument("--dry-run", action="store_true", help="validate and print the manifests; apply nothing")
    deploy.add_argument("-o", "--output", choices=("yaml", "json"), help="manifest format for --dry-run (default yaml)")
    deploy.add_argument("--warm-cache", choices=WARM_MODES,
                        help="fill the model cache before the Services are applied: job (pvc cache) or "
                             "daemonset (hostPath cache, every node the function may run on); default: deploy.cache.warm")
    deploy.add_argument("--timeout", type=float,
                        help="seconds to wait for the cache warm-up and Ready (default: from the startup budget)")
    deploy.add_argument("--print-role", action="store_true",
                        help="print the namespaced Roles a user needs to deploy and route into -n NAMESPACE, then exit")
    _cluster_options(deploy)
    deploy.set_defaults(func=run_deploy)

    for name, handler, help_text in (("describe", run_describe, "show a deployed function's URL, readiness and traffic"),
                                     ("delete", run_delete, "delete a deployed function's Services, Trigger, cache warm-up, raw/keda objects and kfunc traffic routing")):
        command = subparsers.add_parser(name, help=help_text)
        command.add_argument("name", help="function name (from kfunc.yaml)")
        command.add_argument("-n", "--namespace", help="namespace (default: the kubeconfig context's)")
        _cluster_options(command)
        command.set_defaults(func=handler)
        if name == "delete":
            command.add_argument("--force", action="store_true", help="delete even while a kfunc route still sends traffic to it")


def _cluster_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--kubeconfig", help="kubeconfig file (default: $KUBECONFIG or ~/.kube/config)")
    parser.add_argument("--context", help="kubeconfig context (default: the current one)")


def _note(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def run_deploy(args: argparse.Namespace) -> int:
    if args.print_role:
        sys.stdout.write(to_yaml(deployer_roles(args.namespace or "default")))
        _note(f"bind it: kubectl create rolebinding {ROLE_NAME} --role {ROLE_NAME} --user USER -n "
              f"{args.namespace or 'default'} (and likewise {ROLE_NAME}-read-config in knative-serving, optional)")
        return 0
    if args.output and not args.dry_run:
        raise KFuncError("-o/--output only applies with --dry-run; add --dry-run to print the manifests")
    kube = None if args.dry_run else Kube.connect(args.kubeconfig, args.context)
    rendered = pipeline.prepare(args.path, args.namespace, args.image, args.split,
                                kube.default_namespace if kube else "default", args.warm_cache, args.mode)
    if rendered.startup.capped:
        _note(f"warning: a cold load is estimated at {rendered.startup.expected_seconds}s, over the "
              f"{rendered.startup.budget_seconds}s startup cap; pre-fill a pvc or hostPath cache (deploy.cache, --warm-cache)")
    if kube is None:
        return _dry_run(args, rendered)
    _check(rendered, pipeline.load_schemas(args.crds, kube, rendered.objects), pipeline.serving_limits(kube))
    skipped = pipeline.preflight(rendered, kube)
    if skipped:
        _note(skipped)
    states = pipeline.apply_and_wait(rendered, kube, _note, args.timeout)
    for service, state in zip(rendered.workloads, states):
        _note(f"{service['metadata']['name']} is ready at {state.url}")
    print(states[-1].url)
    return 0


def _dry_run(args: argparse.Namespace, rendered: Rendered) -> int:
    _check(rendered, pipeline.load_schemas(args.crds, None, rendered.objects))
    if args.output == "json":
        print(json.dumps(rendered.objects, indent=2))
    else:
        sys.stdout.write(to_yaml(rendered.objects))
    return 0


def _check(rendered: Rendered, schemas: CrdSchemas | None, limits: ServingLimits = ServingLimits()) -> None:
    for line in pipeline.check_offline(rendered, schemas, limits).notes():
        _note(line)


def _connect(args: argparse.Namespace) -> tuple[Kube, str]:
    kube = Kube.connect(args.kubeconfig, args.context)
    return kube, args.namespace or kube.default_namespace


def run_describe(args: argparse.Namespace) -> int:
    kube, namespace = _connect(args)
    text = describe(kube, namespace, args.name)
    if not text:
        raise KFuncError(f"no function {args.name!r} in namespace {namespace!r}; check the name and -n")
    print(text)
    return 0


def run_delete(args: argparse.Namespace) -> int:
    kube, namespace = _connect(args)
    routes = routes_to(kube, namespace, args.name)
    serving = [f"{route}: {percent}%" for route, percent in routes.items() if percent > 0]
    if serving and not args.force:
        raise KFuncError(f"{args.name!r} still gets traffic from {', '.join(serving)}; move it first "
                         "(kfunc traffic switch FUNCTION --to ANOTHER-VERSION) or delete the routing "
                         "(kfunc delete FUNCTION), or pass --force to delete it anyway")
    if routes:
        _note(f"warning: {', '.join(routes)} still list {args.name!r}; re-run kfunc traffic without that version "
              "(--versions) so no route points at a deleted Service")
    deleted = [*delete_function(kube, namespace, args.name), *delete_routing(kube, namespace, args.name)]
    if not deleted:
        raise KFuncError(f"no function {args.name!r} in namespace {namespace!r}; nothing deleted")
    for item in deleted:
        print(f"deleted {item}")
    return 0
