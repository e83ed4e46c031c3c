"""Transformer + predictor + explainer around a linear model y = x @ w."""
import numpy as np

from functions import Tensor, explainer, load, predictor, transformer


@load
def setup(model_dir):
    return np.arange(12, dtype=np.float32).reshape(4, 3)


@transformer
def scale(instances, context):
    context.span.set_attribute("test.scaled", True)
    return np.asarray(instances, dtype=np.float32) * 2.0


@predictor(inputs=[Tensor("x", "FP32", [-1, 4])], outputs=[Tensor("y", "FP32", [-1, 3])])
def predict(model, x):
    return x @ model


@transformer.post
def label(result, context):
    return {"y": result, "argmax": result.argmax(axis=1)}


@explainer
def explain(model, x):
    return x[:, :, None] * model[None, :, :]
