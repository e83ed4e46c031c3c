"""Repositories of small test models on disk, served by tests/runtime/funcs/repo/func.py."""
from __future__ import annotations

from pathlib import Path

from tests.conftest import function_dir

MiB = 2**20


def make_model(root: Path, scale: float, size: int = 0, **flags: str) -> Path:
    """A model directory: it multiplies by ``scale``, holds ``size`` bytes, has the ``flags`` files."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "scale.txt").write_text(str(scale))
    if size:
        (root / "weights.bin").write_bytes(b"\x01" * size)
    for flag, text in flags.items():
        (root / flag).write_text(text)
    return root


def make_function(tmp_path: Path, models: dict[str, tuple], extra: str = "") -> Path:
    """A function serving ``tmp_path/repo``: ``models`` maps ``name`` or ``name/version`` to
    (scale, size, flags); ``extra`` is more kfunc.yaml (indented as under ``model:`` or a new section)."""
    directory = tmp_path / "fn"
    directory.mkdir()
    (directory / "func.py").write_text((function_dir("repo") / "func.py").read_text())
    for path, (scale, size, flags) in models.items():
        make_model(tmp_path / "repo" / path, scale, size, **flags)
    (directory / "kfunc.yaml").write_text(f"name: many\nmodel:\n  repository: {tmp_path / 'repo'}\n{extra}")
    return directory
