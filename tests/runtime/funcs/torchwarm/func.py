"""A torch model warmed up by a forward pass inside @load, i.e. in the gunicorn master before fork.

It leaves torch's thread count alone: the runtime must keep the master single-threaded, or the
forked workers inherit a dead OpenMP pool and hang on their first forward pass. With
``TORCHWARM_IMPORT=load`` torch is first imported inside @load rather than at module level.
"""
import os

import numpy as np

from functions import Tensor, load, predictor

if os.environ.get("TORCHWARM_IMPORT", "module") == "module":
    import torch  # noqa: F401  -- imported before @load runs, as most func.py files do


def build():
    """The network, with fixed weights so every process computes the same outputs."""
    import torch
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(256, 256), torch.nn.ReLU(), torch.nn.Linear(256, 4)).eval()


@load
def setup(model_dir):
    import torch
    model = build()
    with torch.inference_mode():
        model(torch.ones(64, 256))  # warm-up forward in the master
    return model


@predictor(inputs=[Tensor("x", "FP32", [-1, 256])])
def predict(model, x):
    import torch
    with torch.inference_mode():
        y = model(torch.from_numpy(x)).numpy()
    return {"y": y, "threads": np.array([torch.get_num_threads()]), "pid": np.array([os.getpid()])}
