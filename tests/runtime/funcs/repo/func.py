"""One handler serving a repository of test models: ``scale.txt`` (what the model multiplies by),
``weights.bin`` (read whole, so the model holds its size in memory), optional ``EXTRA`` (bytes the
model holds beyond its files, as a model does that builds buffers at load), ``SLEEP`` (seconds
the load takes), ``PREDICT_SLEEP`` (seconds each prediction takes) and ``BROKEN`` (the load fails).
With ``REPO_LOADS_DIR`` set, each load appends its process id to ``$REPO_LOADS_DIR/<model name>.log``."""
import os
import time

import numpy as np

from functions import Tensor, load, predictor


@load
def setup(model_dir, context):
    if os.environ.get("REPO_LOADS_DIR"):
        with open(os.path.join(os.environ["REPO_LOADS_DIR"], f"{context.model_name}.log"), "a") as log:
            log.write(f"{os.getpid()}\n")
    if (model_dir / "SLEEP").exists():
        time.sleep(float((model_dir / "SLEEP").read_text()))
    if (model_dir / "BROKEN").exists():
        raise RuntimeError(f"{context.model_name}: weights are corrupt")
    weights = np.fromfile(model_dir / "weights.bin", dtype=np.uint8) if (model_dir / "weights.bin").exists() else None
    extra = np.ones(int((model_dir / "EXTRA").read_text()), dtype=np.uint8) if (model_dir / "EXTRA").exists() else None
    pause = float((model_dir / "PREDICT_SLEEP").read_text()) if (model_dir / "PREDICT_SLEEP").exists() else 0.0
    return {"scale": float((model_dir / "scale.txt").read_text()), "weights": weights, "extra": extra, "pause": pause}


@predictor(inputs=[Tensor("x", "FP32", [-1, 2])], outputs=[Tensor("y", "FP32", [-1, 2])])
def predict(model, x):
    time.sleep(model["pause"])
    return x * model["scale"]
