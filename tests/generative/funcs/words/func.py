"""A generator without a model or tokenizer: it yields words, slowly when asked, and notes in a
file (the prompt names it) that it was closed, so tests see a client leaving stop it."""
import time
from pathlib import Path

from functions import generator


@generator
def generate(prompt, context):
    marker = Path(prompt.text) if prompt.text.startswith("/") else None
    try:
        for i in range(context.sampling.max_tokens or 1000):
            if marker is not None:
                time.sleep(0.05)
            yield f"w{i} "
    finally:
        if marker is not None:
            marker.write_text("closed")
