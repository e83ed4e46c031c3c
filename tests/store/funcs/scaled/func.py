"""Multiplies its input by the vector in the model directory's ``scale.npy``.

It also answers which process loaded the model (``loaded_by``) and which ran each call so far
(``calls``), so tests can see where loading and the warm-up inference happen.
"""
import os

import numpy as np

from functions import Tensor, load, predictor

calls: list[int] = []


@load
def setup(model_dir):
    return np.load(model_dir / "scale.npy", allow_pickle=False), os.getpid()


@predictor(inputs=[Tensor("x", "FP32", [-1, 3])])
def predict(model, x):
    scale, loaded_by = model
    calls.append(os.getpid())
    return {"y": x * scale, "calls": np.array(calls), "loaded_by": np.array([loaded_by])}
