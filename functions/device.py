"""Which device a handler's model goes on: ``KFUNC_DEVICE`` / ``runtime.device`` = auto | cpu | cuda.

torch is imported only when the answer depends on it, never at module import.
"""
from __future__ import annotations

from .errors import ConfigError

DEVICE_SETTINGS = ("auto", "cpu", "cuda")


def cuda_available() -> bool:
    """True when torch is importable and sees a CUDA device.

    ``torch.cuda.is_available()`` initialises the CUDA driver unless
    ``PYTORCH_NVML_BASED_CUDA_CHECK=1`` is set; set it if the process forks afterwards.
    """
    try:
        import torch
    except ImportError:
        return False
    return bool(torch.cuda.is_available())


def select_device(setting: str) -> str:
    """``"cuda"`` or ``"cpu"`` for a setting; ``cuda`` without a usable GPU is a ConfigError."""
    if setting not in DEVICE_SETTINGS:
        raise ConfigError(f"runtime.device (or KFUNC_DEVICE): {setting!r} is not allowed; use one of auto, cpu, cuda")
    if setting == "cpu":
        return "cpu"
    if cuda_available():
        return "cuda"
    if setting == "cuda":
        raise ConfigError("runtime.device (or KFUNC_DEVICE) is 'cuda' but torch sees no CUDA device; "
                          "request a GPU (nvidia.com/gpu) for the pod, install a CUDA build of torch, or use 'auto'")
    return "cpu"
