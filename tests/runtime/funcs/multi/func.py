"""Two declared inputs, tensor metadata from kfunc.yaml; handler gets a dict."""
from functions import predictor


@predictor
def predict(inputs, context):
    return {"sum": inputs["a"] + inputs["b"], "request_id": [context.request_id]}
