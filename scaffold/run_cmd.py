"""``kfunc run [PATH]``: serve a function locally; the same command is the container entrypoint."""
from __future__ import annotations

import argparse
import os

from functions.function import Function
from functions.server.gunicorn_app import ServeOptions, serve


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("run", help="serve a function with gunicorn (V1, V2, CloudEvents)")
    parser.add_argument("path", nargs="?", default=".", help="function directory (default: .)")
    parser.add_argument("--host", default=None, help="address to bind (default: LISTEN_ADDRESS or 0.0.0.0)")
    parser.add_argument("--port", type=int, default=None, help="port (default: $PORT, else 8080)")
    parser.add_argument("--workers", type=int, default=None,
                        help="worker processes (default: runtime.workers, else one per core or GPU)")
    parser.add_argument("--threads", type=int, default=None,
                        help="threads per worker (default: runtime.threads, else 4 or the batch size)")
    parser.add_argument("--access-log", action="store_true", help="log every request")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    function = Function.from_directory(args.path)
    listen_host, _, listen_port = os.environ.get("LISTEN_ADDRESS", "").rpartition(":")
    options = ServeOptions(
        host=args.host or listen_host or "0.0.0.0",
        port=args.port or int(os.environ.get("PORT") or listen_port or 8080),
        workers=args.workers or _int_env("KFUNC_WORKERS"),
        threads=args.threads or _int_env("KFUNC_THREADS"),
        access_log=args.access_log,
    )
    serve(function, options)
    return 0


def _int_env(name: str) -> int | None:
    value = os.environ.get(name)
    return int(value) if value else None
