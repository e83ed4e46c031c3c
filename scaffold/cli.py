"""``kfunc``: the command line entry point; each verb lives in its own module."""
from __future__ import annotations

import argparse
import logging
import sys

from functions.errors import KFuncError

from . import build_cmd, cache_cmd, deploy_cmd, invoke_cmd, new_cmd, rollout_cmd, run_cmd, traffic_cmd

COMMANDS = (new_cmd, build_cmd, run_cmd, invoke_cmd, deploy_cmd, traffic_cmd, rollout_cmd, cache_cmd)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kfunc", description="Serverless ML inference functions on Knative.")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        command.add_parser(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        return args.func(args) or 0
    except KFuncError as exc:
        print(f"kfunc {args.command}: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
