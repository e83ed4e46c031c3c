"""A batching predictor that shows how it was called: each output row is ``[2*x0, 2*x1, the
number of requests stacked into the call, the worker's pid]``. An input row starting with 99
holds the call for half a second (so requests queue behind it); a negative value fails the call
(ValueError: that request's fault); a row starting with 77 fails it as a store outage would (OSError)."""
import os
import time

import numpy as np

from functions import Tensor, predictor


@predictor(batch=True, max_batch_size=16, max_latency_ms=60000,
           inputs=[Tensor("x", "FP32", [-1, 2])], outputs=[Tensor("y", "FP64", [-1, 4])])
def predict(x: np.ndarray, context) -> np.ndarray:
    if np.any(x[:, 0] == 99):
        time.sleep(0.5)
    if np.any(x[:, 0] == 77):
        raise OSError("the feature store is down")
    if np.any(x < 0):
        raise ValueError("negative input")
    requests = len(context.batch) or 1
    return np.column_stack([2.0 * x, np.full(len(x), requests), np.full(len(x), os.getpid())])
