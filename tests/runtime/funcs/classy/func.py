"""A KServe-style class handler with preprocess and postprocess."""
import numpy as np

from functions import Model, Tensor


class Doubler(Model):
    inputs = [Tensor("a", "INT32", [-1, 2])]

    def load(self, model_dir):
        self.factor = 2

    def preprocess(self, data, context):
        return np.asarray(data, dtype=np.int32)

    def predict(self, data, context):
        return data * self.factor

    def postprocess(self, result, context):
        return result.sum(axis=1)
