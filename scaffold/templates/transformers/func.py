"""{{name}}: sentence embeddings from a Hugging Face text model kept in a local directory.

``model.uri`` names a directory holding ``config.json``, the tokenizer files and the weights
(e.g. what ``save_pretrained`` writes). Nothing is downloaded at run time: both loads use
``local_files_only=True``. Embeddings are mean-pooled over the tokens and L2-normalised, as
sentence-transformers models such as all-MiniLM-L6-v2 expect. kfunc also serves them at
``POST /openai/v1/embeddings`` (OpenAI's API; ``usage`` counted with the model's tokenizer).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from transformers import AutoModel, AutoTokenizer, PreTrainedModel, PreTrainedTokenizerBase

from functions import Tensor, load, predictor

torch.set_num_threads(1)  # one intra-op thread per worker: kfunc scales with workers and replicas

MAX_TOKENS = 256


@dataclass
class Encoder:
    tokenizer: PreTrainedTokenizerBase
    model: PreTrainedModel
    device: torch.device


@load
def setup(model_dir: Path | None) -> Encoder:
    """Load tokenizer and model from the local model directory, on the GPU when there is one."""
    if model_dir is None or not (Path(model_dir) / "config.json").is_file():
        raise FileNotFoundError(
            f"model.uri must name a Hugging Face model directory with config.json, the tokenizer and "
            f"the weights (got {model_dir}); see README.md")
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    tokenizer = AutoTokenizer.from_pretrained(model_dir, local_files_only=True)
    model = AutoModel.from_pretrained(model_dir, local_files_only=True).to(device).eval()
    return Encoder(tokenizer, model, device)


@predictor(inputs=[Tensor("text", "BYTES", [-1])], outputs=[Tensor("embedding", "FP32", [-1, -1])],
           tokenizer=lambda model: model.tokenizer)
def predict(model: Encoder, text: np.ndarray) -> np.ndarray:
    """A batch of sentences -> one unit-length embedding row per sentence."""
    sentences = [t.decode("utf-8") if isinstance(t, bytes) else str(t) for t in text.ravel()]
    batch = model.tokenizer(sentences, padding=True, truncation=True, max_length=MAX_TOKENS,
                            return_tensors="pt").to(model.device)
    with torch.inference_mode():
        hidden = model.model(**batch).last_hidden_state
    mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
    pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
    return torch.nn.functional.normalize(pooled, dim=1).cpu().numpy()
