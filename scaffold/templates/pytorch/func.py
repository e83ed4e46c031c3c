"""{{name}}: a small PyTorch classifier; 4 features in, 3 class probabilities out.

Without a model directory it builds its network with a fixed seed (every replica computes the
same outputs); give ``model.uri`` a directory holding ``model.safetensors`` or ``model.pt`` (a state dict) to
serve trained weights.
"""
from __future__ import annotations

from pathlib import Path

import torch

from functions import Tensor, load, predictor
from functions.weights import with_weights

torch.set_num_threads(1)  # one intra-op thread per worker: kfunc scales with workers and replicas

FEATURES = 4
CLASSES = 3


def build() -> torch.nn.Module:
    """The network, with weights from a fixed seed."""
    torch.manual_seed(0)
    return torch.nn.Sequential(
        torch.nn.Linear(FEATURES, 16), torch.nn.ReLU(),
        torch.nn.Linear(16, CLASSES),
    ).eval()


@load
def setup(model_dir: Path | None) -> torch.nn.Module:
    """Called once, before the server forks its workers (they share the model); returns the model."""
    return with_weights(build(), model_dir)  # model.safetensors, or a state dict in model.pt (weights_only)


@predictor(inputs=[Tensor("features", "FP32", [-1, FEATURES])],
           outputs=[Tensor("probabilities", "FP32", [-1, CLASSES])])
def predict(model: torch.nn.Module, features):
    """A batch of feature rows -> one probability row per input row."""
    with torch.inference_mode():
        return torch.softmax(model(torch.from_numpy(features)), dim=1).numpy()
