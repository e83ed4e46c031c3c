"""Answers the colour it runs as (``COLOR``); with ``RECORD_FILE`` set, appends each request's probe header and Host to it."""
import os

import numpy as np

from functions import predictor

COLOR = os.environ.get("COLOR", "blue")


@predictor
def predict(instances, context):
    record_file = os.environ.get("RECORD_FILE")
    probe = context.headers.get("x-probe")
    if record_file and probe:
        with open(record_file, "a") as record:
            record.write(f"{probe} {context.headers.get('host', '')}\n")
    return np.array([COLOR] * len(instances), dtype=object)
