"""{{name}}: text generation with a Hugging Face causal LM kept in a local directory.

``model.uri`` names a directory holding ``config.json``, the tokenizer files and the weights
(what ``save_pretrained`` writes); nothing is downloaded at run time. kfunc serves it at
``/openai/v1/completions``, ``/openai/v1/chat/completions`` (the tokenizer's chat template) and
the Open Inference Protocol's ``/v2/models/{{name}}/generate`` and ``/generate_stream``, streamed
as Server-Sent Events when asked. ``CausalLM`` batches the requests continuously: one that
arrives while others generate joins them at the next decoding step.
"""
from __future__ import annotations

from pathlib import Path

import torch

from functions import generator, load
from functions.generation import CausalLM

torch.set_num_threads(1)  # one intra-op thread per worker: kfunc scales with workers and replicas

MAX_RUNNING = 16  # sequences generated together; more wait in a queue of
MAX_QUEUED = 64   # at most this many, and further requests get 429 with Retry-After


@load
def setup(model_dir: Path | None) -> CausalLM:
    """Load tokenizer and model from the local model directory."""
    if model_dir is None or not (Path(model_dir) / "config.json").is_file():
        raise FileNotFoundError(
            f"model.uri must name a Hugging Face model directory with config.json, the tokenizer and "
            f"the weights (got {model_dir}); see README.md")
    return CausalLM.from_pretrained(model_dir, max_running=MAX_RUNNING, max_queued=MAX_QUEUED)


@generator(tokenizer=lambda model: model.tokenizer)
def generate(model: CausalLM, prompt, context):
    """The tokens that continue ``prompt``, sampled as the request asks (``context.sampling``)."""
    return model.stream(prompt, context.sampling)
