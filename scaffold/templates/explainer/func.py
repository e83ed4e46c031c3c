"""{{name}}: a PyTorch regressor with an explainer.

``:predict`` gives a price per row of 5 features; ``:explain`` gives, for each feature, its
gradient x input attribution: how much the feature's value moved the prediction away from an
all-zero input (for a linear model the attributions add up to that difference exactly).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from functions import Tensor, explainer, load, predictor
from functions.weights import with_weights

torch.set_num_threads(1)  # one intra-op thread per worker: kfunc scales with workers and replicas

FEATURES = ("rooms", "area", "age", "distance", "floor")


def build() -> torch.nn.Module:
    """The regressor, with weights from a fixed seed (every replica computes the same outputs)."""
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(len(FEATURES), 16), torch.nn.Tanh(), torch.nn.Linear(16, 1)).eval()


@load
def setup(model_dir: Path | None) -> torch.nn.Module:
    return with_weights(build(), model_dir)  # model.safetensors, or a state dict in model.pt (weights_only)


@predictor(inputs=[Tensor("features", "FP32", [-1, len(FEATURES)])], outputs=[Tensor("price", "FP32", [-1])])
def predict(model: torch.nn.Module, features: np.ndarray) -> np.ndarray:
    with torch.inference_mode():
        return model(torch.from_numpy(features)).squeeze(1).numpy()


@explainer
def explain(model: torch.nn.Module, features: np.ndarray) -> dict[str, np.ndarray]:
    """Gradient x input per feature, with the prediction it explains."""
    inputs = torch.from_numpy(np.array(features, dtype=np.float32)).requires_grad_(True)
    prediction = model(inputs).squeeze(1)
    (gradient,) = torch.autograd.grad(prediction.sum(), inputs)
    return {"price": prediction.detach().numpy(), "attributions": (gradient * inputs).detach().numpy()}
