"""``kfunc run [PATH]``: serve a function locally; the same command is the container entrypoint."""
from __future__ import annotations

import argparse
import gc
import os
from pathlib import Path

from functions.config import env_int
from functions.errors import ConfigError
from functions.function import Function
from functions.server.gunicorn_app import ServeOptions, serve


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("run", help="serve a function with gunicorn (V1, V2 REST and gRPC, CloudEvents), or several versions behind Envoy")
    parser.add_argument("path", nargs="?", default=".", help="function directory (default: .)")
    parser.add_argument("--host", default=None, help="address to bind (default: LISTEN_ADDRESS or 0.0.0.0)")
    parser.add_argument("--port", type=int, default=None, help="port (default: $PORT, else 8080)")
    parser.add_argument("--workers", type=int, default=None,
                        help="worker processes (default: runtime.workers, else one per core or GPU)")
    parser.add_argument("--threads", type=int, default=None,
                        help="threads per worker (default: runtime.threads, else 4 or the batch size)")
    parser.add_argument("--grpc-port", type=int, default=None,
                        help="also serve gRPC (Open Inference Protocol) on this port, as KServe's 8081 "
                             "(default: $KFUNC_GRPC_PORT; gRPC is always served on --port too, over h2c)")
    parser.add_argument("--access-log", action="store_true", help="log every request")
    add_mesh_arguments(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.version:
        gc.enable()  # the mesh supervises its servers for hours: only a server's start pauses the GC
        from .run_mesh import run_mesh  # Envoy and the traffic objects, only when asked for
        return run_mesh(args)
    listen_host, _, listen_port = os.environ.get("LISTEN_ADDRESS", "").rpartition(":")
    options = ServeOptions(
        host=args.host or listen_host or "0.0.0.0",
        port=args.port or env_int("PORT") or _listen_port(listen_port),
        workers=args.workers or env_int("KFUNC_WORKERS"),
        threads=args.threads or env_int("KFUNC_THREADS"),
        access_log=args.access_log,
        grpc_port=args.grpc_port or env_int("KFUNC_GRPC_PORT"),
    )
    serve(Function.from_directory(args.path), options)
    return 0


def add_mesh_arguments(parser: argparse.ArgumentParser) -> None:
    """The local-mesh options of ``kfunc run``."""
    mesh = parser.add_argument_group("local mesh (several versions behind Envoy)")
    mesh.add_argument("--version", action="append", default=[], metavar="VERSION=DIR",
                      help="serve this version behind a local Envoy; repeatable (the same DIR twice is fine)")
    mesh.add_argument("--env", action="append", default=[], metavar="VERSION:KEY=VALUE",
                      help="an environment variable for one version's server; repeatable")
    mesh.add_argument("--replicas", type=int, default=1,
                      help="servers per version behind Envoy (a multi-model function's models are hashed onto them)")
    mesh.add_argument("--config", type=Path, help="YAML from kfunc traffic ... --dry-run -o yaml; watched for changes")
    mesh.add_argument("--name", help="function name the routes use (default: the first version's kfunc.yaml name)")
    mesh.add_argument("-n", "--namespace", default="default", help="namespace the routes name (default: default)")


def _listen_port(port: str) -> int:
    if port and not port.isdigit():
        raise ConfigError(f"LISTEN_ADDRESS: port {port!r} is not a number; use HOST:PORT, e.g. 0.0.0.0:8080")
    return int(port or 8080)
