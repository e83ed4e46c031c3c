"""A model whose load fails until a marker file exists, then succeeds: readiness must follow."""
import os
from pathlib import Path

from functions import load, predictor


@load
def setup(model_dir):
    marker = Path(os.environ["KFUNC_TEST_MARKER"])
    if not marker.exists():
        raise ConnectionError("model store unreachable (test)")
    return 7


@predictor
def predict(model, x):
    return x * model
