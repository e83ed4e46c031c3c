"""A small torch MLP (64-256-256-10) served by kfunc; builds its own weights if none are given."""
from pathlib import Path

import torch
from flask import Blueprint, jsonify

from functions import Tensor, load, predictor, routes
from functions.weights import with_weights

torch.set_num_threads(1)


def build() -> torch.nn.Module:
    """The network, with fixed weights so every process computes the same outputs."""
    torch.manual_seed(0)
    return torch.nn.Sequential(
        torch.nn.Linear(64, 256), torch.nn.ReLU(),
        torch.nn.Linear(256, 256), torch.nn.ReLU(),
        torch.nn.Linear(256, 10),
    ).eval()


@load
def setup(model_dir: Path | None) -> torch.nn.Module:
    return with_weights(build(), model_dir)  # model.safetensors, or a state dict in model.pt (weights_only)


@predictor(inputs=[Tensor("input-0", "FP32", [-1, 64])], outputs=[Tensor("output-0", "FP32", [-1, 10])])
def predict(model: torch.nn.Module, x):
    with torch.inference_mode():
        return model(torch.from_numpy(x)).numpy()


info = routes(Blueprint("info", __name__))  # the function's own HTTP routes, on the same port


@info.get("/info")
def describe():
    """What this MLP is: its layers and parameter count."""
    model = build()
    layers = [str(layer) for layer in model]
    return jsonify(layers=layers, parameters=sum(p.numel() for p in model.parameters()))
