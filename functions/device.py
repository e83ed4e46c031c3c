"""Which device a handler's model goes on: ``KFUNC_DEVICE`` / ``runtime.device`` = auto | cpu | cuda.

Handlers ask with ``functions.selected_device()``. torch is imported only when the answer
depends on it, never at module import, and the CUDA check does not initialise CUDA, so the
gunicorn master may ask before it forks its workers.
"""
from __future__ import annotations

import functools
import os
import sys

from .errors import ConfigError

DEVICE_SETTINGS = ("auto", "cpu", "cuda")
DEVICE_ENV = "KFUNC_DEVICE"

_configured = "auto"


def cuda_available() -> bool:
    """True when torch is importable and sees a CUDA device.

    Counted through NVML (``torch.cuda.device_count``, what ``PYTORCH_NVML_BASED_CUDA_CHECK=1``
    makes ``is_available`` do), which leaves CUDA uninitialised and a later fork safe.
    """
    try:
        import torch
    except ImportError:
        return False
    return torch.cuda.device_count() > 0


def select_device(setting: str) -> str:
    """``"cuda"`` or ``"cpu"`` for a setting; ``cuda`` without a usable GPU is a ConfigError."""
    if setting not in DEVICE_SETTINGS:
        raise ConfigError(f"runtime.device (or {DEVICE_ENV}): {setting!r} is not allowed; use one of auto, cpu, cuda")
    if setting == "cpu":
        return "cpu"
    if cuda_available():
        return "cuda"
    if setting == "cuda":
        raise ConfigError(f"runtime.device (or {DEVICE_ENV}) is 'cuda' but torch sees no CUDA device; "
                          "request a GPU (nvidia.com/gpu) for the pod, install a CUDA build of torch, or use 'auto'")
    return "cpu"


def configure_device(setting: str) -> None:
    """Set the served function's ``runtime.device`` (the runtime calls this; ``KFUNC_DEVICE`` still wins)."""
    global _configured
    _configured = setting


def _setting() -> str:
    return os.environ.get(DEVICE_ENV) or _configured


def expects_cuda() -> bool:
    """Whether :func:`selected_device` answers ``cuda``, asked without importing torch: ``cuda``
    set explicitly, or ``auto`` with torch already imported (by func.py) and a GPU in sight."""
    setting = _setting()
    if setting in ("cpu", "cuda"):
        return setting == "cuda"
    return "torch" in sys.modules and cuda_available()


def selected_device() -> str:
    """The device for the served function's model, ``"cuda"`` or ``"cpu"``: ``KFUNC_DEVICE``, else
    ``runtime.device`` from kfunc.yaml, else auto (CUDA when torch sees a GPU).

        model = AutoModel.from_pretrained(model_dir, local_files_only=True).to(selected_device())
    """
    return _resolve(_setting())


@functools.lru_cache(maxsize=None)
def _resolve(setting: str) -> str:
    return select_device(setting)
