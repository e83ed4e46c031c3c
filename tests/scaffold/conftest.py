"""Scaffold test helpers: the new/templates/build commands behind a real argparse parser."""
from __future__ import annotations

from pathlib import Path
from typing import Callable

import pytest
import yaml

from scaffold.cli import build_parser


def kfunc(*argv: str | Path) -> int:
    """Parse and run ``kfunc ARGV`` with the real parser; KFuncError propagates as the CLI gets it."""
    args = build_parser().parse_args([str(a) for a in argv])
    return args.func(args)


def edit_config(project: Path, **sections) -> None:
    """Replace top-level sections of a project's kfunc.yaml."""
    config = yaml.safe_load((project / "kfunc.yaml").read_text())
    config.update(sections)
    (project / "kfunc.yaml").write_text(yaml.safe_dump(config))


@pytest.fixture
def new_function(tmp_path) -> Callable[..., Path]:
    """``new_function(template, name=...)``: a freshly generated project under tmp_path."""

    def create(template: str, name: str | None = None) -> Path:
        name = name or f"my-{template}"
        target = tmp_path / name
        assert kfunc("new", name, "--template", template, "--path", target) == 0
        return target

    return create
