"""``kfunc new NAME`` (a function project from a template) and ``kfunc templates`` (list them)."""
from __future__ import annotations

import argparse
from pathlib import Path

from .templates import find_template, list_templates, render, write_project

DEFAULT_TEMPLATE = "pytorch"


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``new`` and ``templates`` subcommands; each sets ``func`` to a callable(args) -> exit code.

    Problems are raised as KFuncError (the CLI prints the message)."""
    new = subparsers.add_parser("new", help="create a function project from a template",
                                description="Create a function project: func.py, kfunc.yaml, "
                                            "requirements.txt, tests/ and a README.")
    new.add_argument("name", help="function name: lowercase letters, digits and '-', starting with a letter")
    new.add_argument("--template", "-t", default=DEFAULT_TEMPLATE,
                     help=f"template to start from (default {DEFAULT_TEMPLATE}; see 'kfunc templates')")
    new.add_argument("--path", "-p", type=Path, help="directory to create (default ./NAME)")
    new.add_argument("--repository", type=Path, help="a directory of your own templates, searched first")
    new.set_defaults(func=run_new)

    templates = subparsers.add_parser("templates", help="list the templates 'kfunc new' can use")
    templates.add_argument("--repository", type=Path, help="also list the templates in this directory")
    templates.set_defaults(func=run_templates)


def create_function(name: str, template: str = DEFAULT_TEMPLATE, path: Path | None = None,
                    repository: Path | None = None) -> Path:
    """Render ``template`` as function ``name`` into ``path`` (default ``./name``); return the directory."""
    files = render(find_template(template, repository), name)
    target = (path if path is not None else Path(name)).resolve()
    write_project(files, target)
    return target


def run_new(args: argparse.Namespace) -> int:
    target = create_function(args.name, args.template, args.path, args.repository)
    print(f"created function {args.name} from template {args.template} in {target}\n"
          f"next:\n  cd {target}\n  pip install -r requirements.txt\n  pytest\n"
          f"  kfunc run .\n  kfunc build --image REGISTRY/{args.name}:1 --push")
    return 0


def run_templates(args: argparse.Namespace) -> int:
    templates = list_templates(args.repository)
    width = max(len(t.name) for t in templates)
    for template in templates:
        origin = "" if template.builtin else f"  [{template.path.parent}]"
        print(f"{template.name:<{width}}  {template.description or '(no description)'}{origin}")
    return 0
