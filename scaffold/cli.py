"""``kfunc``: the command line entry point; each verb lives in its own module.

Only the module of the verb being run is imported, so ``kfunc run`` (the container
entrypoint) starts without the deploy, build and traffic machinery.
"""
from __future__ import annotations

import argparse
import importlib
import logging
import sys
from types import ModuleType

from functions.errors import KFuncError

# module -> the verbs its add_parser() registers, in the order --help lists them
COMMANDS: dict[str, tuple[str, ...]] = {
    "new_cmd": ("new", "templates"),
    "build_cmd": ("build",),
    "run_cmd": ("run",),
    "invoke_cmd": ("invoke",),
    "deploy_cmd": ("deploy", "describe", "delete"),
    "traffic_cmd": ("traffic",),
    "rollout_cmd": ("rollout",),
    "cache_cmd": ("cache",),
}


def _modules_for(argv: list[str]) -> list[ModuleType]:
    verb = next((a for a in argv if not a.startswith("-")), None)
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
    args = build_parser(argv).parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        return args.func(args) or 0
    except KFuncError as exc:
        print(f"kfunc {args.command}: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
