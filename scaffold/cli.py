"""``kfunc``: the command line entry point; each verb lives in its own module.

Only the module of the verb being run is imported, so ``kfunc run`` (the container
entrypoint) starts without the deploy, build and traffic machinery. ``kfunc run`` also starts
with Python's cyclic garbage collector paused: importing torch and loading a model create
hundreds of thousands of long-lived objects, and the collections that would scan them again and
again cost a quarter of the start (see ``functions.server.gunicorn_app`` for when it resumes).
"""
from __future__ import annotations

import argparse
import gc
import importlib
import logging
import sys
from types import ModuleType

# exit statuses (docs/deploy.md, README): argparse exits with EXIT_USAGE itself
EXIT_OK = 0
EXIT_FAILED = 1  # a step kfunc ran failed: the image build, or a rollout's analysis (traffic was rolled back)
EXIT_USAGE = 2  # the command line itself: unknown option, missing argument
EXIT_USER = 3  # bad input: kfunc.yaml, an option's value, an environment variable; the message names the fix
EXIT_CLUSTER = 4  # the cluster refused or could not be reached (exceptions carry exit_code = 4)
EXIT_TIMEOUT = 5  # the deploy or warm-up did not finish in time (exit_code = 5)

# module -> the verbs its add_parser() registers, in the order --help lists them
COMMANDS: dict[str, tuple[str, ...]] = {
    "new_cmd": ("new", "templates"),
    "build_cmd": ("build",),
    "run_cmd": ("run",),
    "invoke_cmd": ("invoke",),
    "models_cmd": ("models",),
    "deploy_cmd": ("deploy", "describe", "delete"),
    "traffic_cmd": ("traffic",),
    "rollout_cmd": ("rollout",),
    "cache_cmd": ("cache",),
}


def _verb(argv: list[str]) -> str | None:
    return next((a for a in argv if not a.startswith("-")), None)


def _modules_for(argv: list[str]) -> list[ModuleType]:
    verb = _verb(argv)
    names = [m for m, verbs in COMMANDS.items() if verb in verbs] or list(COMMANDS)
    return [importlib.import_module(f"{__package__}.{name}") for name in names]


def build_parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    """The parser for ``argv``'s verb (every verb when ``argv`` is None or names none)."""
    parser = argparse.ArgumentParser(prog="kfunc", description="Serverless ML inference functions on Knative.")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in _modules_for(argv if argv is not None else []):
        module.add_parser(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    pause_gc = _verb(argv) == "run" and gc.isenabled()
    if pause_gc:
        gc.disable()  # before the first import of the runtime and torch
    try:
        return _run(argv)
    finally:
        if pause_gc:
            gc.enable()


def _run(argv: list[str]) -> int:
    from functions.errors import KFuncError

    args = build_parser(argv).parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        return args.func(args) or EXIT_OK
    except KFuncError as exc:
        print(f"kfunc {args.command}: {exc}", file=sys.stderr)
        return getattr(exc, "exit_code", EXIT_USER)
    except OSError as exc:  # a path that does not exist or cannot be read
        print(f"kfunc {args.command}: {exc}; check the path", file=sys.stderr)
        return EXIT_USER


if __name__ == "__main__":
    sys.exit(main())
