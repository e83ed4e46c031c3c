"""Echoes every input back under its own name, plus ``parameters``: the request's parameters as JSON.
An input named ``fail`` makes the handler raise."""
import json

import numpy as np

from functions import predictor


@predictor
def predict(inputs, context):
    if not isinstance(inputs, dict):
        inputs = {"echo": inputs}
    if "fail" in inputs:
        raise ValueError("asked to fail")
    return {**inputs, "parameters": np.array([json.dumps(context.parameters, sort_keys=True)], dtype=object)}
