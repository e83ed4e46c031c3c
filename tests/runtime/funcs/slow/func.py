"""Each request sleeps for its own data (seconds) and echoes it: for drain tests."""
import time

from functions import predictor


@predictor
def predict(x):
    time.sleep(float(x.ravel()[0]))
    return x
