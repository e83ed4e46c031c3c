"""Two declared INT32 inputs behind a 10 KiB body limit: for error-path tests."""
from functions import predictor


@predictor
def predict(inputs):
    return {"sum": inputs["a"] + inputs["b"]}
