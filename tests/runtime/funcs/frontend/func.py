"""A transformer-only function: the predictor runs elsewhere (KFUNC_PREDICTOR_HOST)."""
import numpy as np

from functions import transformer


@transformer
def features(records):
    return np.array([r["features"] for r in records], dtype=np.float32)


@transformer.post
def top_class(result):
    return np.asarray(result).argmax(axis=1)
