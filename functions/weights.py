"""Safe loading of model weights: safetensors first (memory-mapped), torch checkpoints with
``weights_only=True``, arbitrary pickles only when the caller opts in.

torch and safetensors are imported on use, so this module costs nothing to import.
"""
from __future__ import annotations

import os
import pickle
import re
import zipfile
from pathlib import Path
from typing import Any

from .errors import ConfigError

SAFETENSORS_SUFFIX = ".safetensors"
TORCH_SUFFIXES = (".pt", ".pth", ".bin", ".ckpt")
_OPT_IN = "pass allow_pickle=True only if you trust whoever wrote the file"


def find_weights(model_dir: Path) -> list[Path]:
    """The weight files in ``model_dir``: every ``*.safetensors`` (shards) if any, else the one torch checkpoint."""
    safetensors = sorted(model_dir.glob(f"*{SAFETENSORS_SUFFIX}"))
    if safetensors:
        return safetensors
    checkpoints = sorted(p for p in model_dir.iterdir() if p.suffix in TORCH_SUFFIXES)
    if len(checkpoints) != 1:
        found = ", ".join(p.name for p in checkpoints) or "none"
        raise ConfigError(f"{model_dir}: expected *.safetensors files or one torch checkpoint "
                          f"({', '.join(TORCH_SUFFIXES)}); found {found}")
    return checkpoints


def load_weights(path: str | os.PathLike, device: str = "cpu", allow_pickle: bool = False) -> Any:
    """The weights in a file, or in a model directory (safetensors shards merged into one dict)."""
    path = Path(path)
    files = find_weights(path) if path.is_dir() else [path]
    if files[0].suffix != SAFETENSORS_SUFFIX:
        return load_torch(files[0], device, allow_pickle)
    tensors: dict[str, Any] = {}
    for file in files:
        tensors.update(load_safetensors(file, device))
    return tensors


def with_weights(model: Any, model_dir: str | os.PathLike | None) -> Any:
    """``model`` (a torch module) with the state dict in ``model_dir`` loaded into it; as it is
    when there is no model directory (no ``model.uri``)."""
    if model_dir is not None:
        model.load_state_dict(load_weights(model_dir))
    return model


def load_safetensors(path: Path, device: str = "cpu") -> dict[str, Any]:
    """Tensors of a safetensors file, memory-mapped on CPU (no copy until written), or placed on ``device``."""
    from safetensors.torch import load_file

    return load_file(path, device=device)


def load_torch(path: Path, device: str = "cpu", allow_pickle: bool = False) -> Any:
    """A ``torch.save`` checkpoint with ``weights_only=True`` (memory-mapped when in zip format).

    A checkpoint holding more than tensors and plain containers (a whole pickled module) is refused
    unless ``allow_pickle`` is set, since unpickling runs code from the file.
    """
    import torch

    try:
        return torch.load(path, map_location=device, weights_only=not allow_pickle, mmap=zipfile.is_zipfile(path))
    except pickle.UnpicklingError as exc:
        found = re.search(r"GLOBAL ([\w.]+)", str(exc))
        what = f" ({found.group(1)})" if found else ""
        raise ConfigError(f"{path}: holds objects other than tensors{what}, which weights_only loading refuses; "
                          f"save a state_dict or safetensors instead, or {_OPT_IN}") from None


def load_pickle(path: Path, allow_pickle: bool = False) -> Any:
    """Unpickle ``path`` (e.g. a scikit-learn model), only when the caller opts in."""
    if not allow_pickle:
        raise ConfigError(f"{path}: loading a pickle runs code from the file and is off by default; {_OPT_IN}")
    with open(path, "rb") as handle:
        return pickle.load(handle)
