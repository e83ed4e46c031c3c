"""The tiny test LM (functions/generation/testing.py) behind the generation routes, continuously batched
by functions.generation.CausalLM; TINYLM_MAX_RUNNING / TINYLM_MAX_QUEUED set its bounds,
TINYLM_ENGINE where its engine runs (thread or process)."""
import os

from functions import generator, load
from functions.generation import CausalLM


@load
def setup(model_dir):
    return CausalLM.from_pretrained(model_dir, max_running=int(os.environ.get("TINYLM_MAX_RUNNING", "8")),
                                    max_queued=int(os.environ.get("TINYLM_MAX_QUEUED", "4")),
                                    engine=os.environ.get("TINYLM_ENGINE"))


@generator(tokenizer=lambda model: model.tokenizer)
def generate(model, prompt, context):
    return model.stream(prompt, context.sampling)
