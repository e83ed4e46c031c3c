"""Doubles its rows; a row starting with -1 makes the handler fail (a 500 to log)."""
import numpy as np

from functions import Tensor, predictor


@predictor(inputs=[Tensor("x", "FP32", [-1, 4])], outputs=[Tensor("y", "FP32", [-1, 4])])
def predict(x):
    if x.size and x[0][0] == -1:
        raise ValueError("asked to fail")
    return (x * 2).astype(np.float32)
