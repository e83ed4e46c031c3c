"""A BYTES model with an async predictor: string lengths and upper-cased text."""
import numpy as np

from functions import Tensor, predictor


@predictor(inputs=[Tensor("text", "BYTES", [-1])],
           outputs=[Tensor("length", "INT64", [-1]), Tensor("upper", "BYTES", [-1])])
async def predict(text, context):
    words = [t.decode() if isinstance(t, bytes) else t for t in text]
    return {"length": np.array([len(w) for w in words]), "upper": np.array([w.upper() for w in words], dtype=object)}
