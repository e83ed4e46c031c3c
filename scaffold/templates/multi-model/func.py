"""{{name}}: one function serving a repository of small PyTorch classifiers (4 features in, 3 class
probabilities out), each request answered by the model it names.

Every sub-directory of ``model.repository`` is a model (``<name>/`` or ``<name>/<version>/``). A model
directory holds ``model.safetensors`` (or ``model.pt``, a state dict) with trained weights, or only a
``seed.txt``: the network is then built from that seed (the models shipped in ``models/`` are such).
kfunc loads a model on its first request, keeps the pod under ``runtime.memory-budget`` by unloading
the least recently used ones, and keeps ``model.pinned`` ones loaded (see docs/multi-model.md).
"""
from __future__ import annotations

import logging
from pathlib import Path

import torch

from functions import Context, Tensor, load, predictor
from functions.weights import with_weights

torch.set_num_threads(1)  # one intra-op thread per worker: kfunc scales with workers and replicas
log = logging.getLogger("{{name}}")

FEATURES = 4
CLASSES = 3


def build(seed: int) -> torch.nn.Module:
    """The network, with weights from ``seed``."""
    torch.manual_seed(seed)
    return torch.nn.Sequential(
        torch.nn.Linear(FEATURES, 16), torch.nn.ReLU(),
        torch.nn.Linear(16, CLASSES),
    ).eval()


@load
def setup(model_dir: Path, context: Context) -> torch.nn.Module:
    """Called once per model kfunc loads, with that model's directory; ``context.model_name`` and
    ``context.model_version`` say which one it is."""
    log.info("loading model %s version %s from %s", context.model_name, context.model_version, model_dir)
    seed_file = model_dir / "seed.txt"
    if seed_file.exists():
        return build(int(seed_file.read_text()))
    return with_weights(build(0), model_dir)  # model.safetensors, or a state dict in model.pt


@predictor(inputs=[Tensor("features", "FP32", [-1, FEATURES])],
           outputs=[Tensor("probabilities", "FP32", [-1, CLASSES])])
def predict(model: torch.nn.Module, features):
    """The model the request named: a batch of feature rows -> one probability row per input row."""
    with torch.inference_mode():
        return torch.softmax(model(torch.from_numpy(features)), dim=1).numpy()
