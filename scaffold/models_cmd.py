"""``kfunc models list|load|unload``: a running function's model repository (the OIP repository
extension: ``POST /v2/repository/index``, ``.../models/<name>/load``, ``.../unload``)."""
from __future__ import annotations

import argparse
import sys
from typing import Any

import urllib3

from functions.errors import KFuncError
from functions.protocol.jsonutil import dumps, loads


class Unreachable(KFuncError):
    """The function did not answer (exit status 4, as an unreachable cluster)."""

    exit_code = 4


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("models", help="list, load or unload the models of a running function")
    parser.add_argument("action", choices=("list", "load", "unload"),
                        help="list: every model with its state; load / unload: one model by name")
    parser.add_argument("name", nargs="?", help="the model (load, unload)")
    parser.add_argument("--version", help="the model version to load (default: its latest)")
    parser.add_argument("--ready", action="store_true", help="list only the models loaded somewhere")
    parser.add_argument("--target", default="http://localhost:8080", help="function URL (default: http://localhost:8080)")
    parser.set_defaults(func=models)


def models(args: argparse.Namespace) -> int:
    target = args.target.rstrip("/")
    if args.action == "list":
        status, rows = _post(f"{target}/v2/repository/index", {"ready": True} if args.ready else {})
        if status >= 400:
            return _refused(rows)
        _print_table(rows)
        return 0
    if not args.name:
        raise KFuncError(f"kfunc models {args.action} needs the model's name, e.g. kfunc models {args.action} "
                         "fraud-7 (kfunc models list shows them)")
    body = {"parameters": {"version": args.version}} if args.version and args.action == "load" else {}
    status, answer = _post(f"{target}/v2/repository/models/{args.name}/{args.action}", body)
    if status >= 400:
        return _refused(answer)
    print(f"{args.name}: {'loaded' if args.action == 'load' else 'unloaded'}")
    return 0


def _post(url: str, body: dict[str, Any]) -> tuple[int, Any]:
    http = urllib3.PoolManager(retries=urllib3.Retry(total=2, backoff_factor=0.2))
    try:
        answer = http.request("POST", url, body=dumps(body), headers={"Content-Type": "application/json"},
                              timeout=300)
    except urllib3.exceptions.HTTPError as exc:
        raise Unreachable(f"cannot reach {url}: {exc}; is the function running (kfunc run), and is --target right?") from None
    try:
        return answer.status, loads(answer.data)
    except KFuncError:
        raise KFuncError(f"{url} answered {answer.status} without JSON; is --target a kfunc function?") from None


def _refused(answer: Any) -> int:
    print(f"kfunc models: {answer.get('error', answer) if isinstance(answer, dict) else answer}", file=sys.stderr)
    return 1


def _print_table(rows: list[dict[str, Any]]) -> None:
    table = [("NAME", "VERSION", "STATE", "REASON")] + [
        (row["name"], row.get("version", "-"), row["state"], row.get("reason", "")) for row in rows]
    widths = [max(len(str(line[i])) for line in table) for i in range(3)]
    for line in table:
        print("  ".join(str(cell).ljust(width) for cell, width in zip(line, widths)) + "  " + line[3])
