"""The cold-start benchmark's function: the MLP of coldstart_mlp.py, weights memory-mapped from the model directory."""
import numpy as np
import torch

from coldstart_mlp import IN, OUT, forward
from functions import Tensor, load, predictor
from functions.weights import load_weights


@load
def setup(model_dir):
    return load_weights(model_dir)


@predictor(inputs=[Tensor("x", "FP32", [-1, IN])], outputs=[Tensor("y", "FP32", [-1, OUT])])
def predict(model, x: np.ndarray) -> np.ndarray:
    with torch.inference_mode():
        return forward(model, torch.from_numpy(x)).numpy()
