"""The cold-start benchmark's model: an MLP kept as a safetensors state dict (~150 MB of FP32),
run with plain torch ops so that the floor, kfunc and KServe compute exactly the same thing."""
from __future__ import annotations

from pathlib import Path

import torch

IN, HIDDEN, OUT = 1024, 4096, 16
HIDDEN_LAYERS = 3
WEIGHTS_FILE = "model.safetensors"


def generate(model_dir: Path, seed: int = 0) -> Path:
    """Write ``model_dir/model.safetensors`` (random weights, fixed seed); returns the file."""
    from safetensors.torch import save_file

    generator = torch.Generator().manual_seed(seed)
    sizes = [IN, *[HIDDEN] * HIDDEN_LAYERS, OUT]
    weights = {}
    for index, (fan_in, fan_out) in enumerate(zip(sizes, sizes[1:])):
        weights[f"layer{index}.weight"] = torch.randn(fan_out, fan_in, generator=generator) / fan_in ** 0.5
        weights[f"layer{index}.bias"] = torch.zeros(fan_out)
    model_dir.mkdir(parents=True, exist_ok=True)
    save_file(weights, model_dir / WEIGHTS_FILE)
    return model_dir / WEIGHTS_FILE


def forward(weights: dict[str, torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    """Linear layers with ReLU between them."""
    layers = len(weights) // 2
    for index in range(layers):
        x = torch.nn.functional.linear(x, weights[f"layer{index}.weight"], weights[f"layer{index}.bias"])
        if index < layers - 1:
            x = torch.relu(x)
    return x
