"""Sentence embeddings from all-MiniLM-L6-v2, loaded from the model directory with no hub access.

Mean pooling over the tokens, then L2 normalisation, as the model's sentence-transformers
configuration (1_Pooling, 2_Normalize) prescribes.
"""
import numpy as np
import torch
from transformers import AutoModel, AutoTokenizer

from functions import Tensor, load, predictor, selected_device


@load
def setup(model_dir):
    tokenizer = AutoTokenizer.from_pretrained(model_dir, local_files_only=True)
    encoder = AutoModel.from_pretrained(model_dir, local_files_only=True).to(selected_device()).eval()
    return tokenizer, encoder


@predictor(inputs=[Tensor("text", "BYTES", [-1])], outputs=[Tensor("embedding", "FP32", [-1, 384])])
def predict(model, text: np.ndarray) -> np.ndarray:
    tokenizer, encoder = model
    sentences = [t.decode("utf-8") if isinstance(t, bytes) else str(t) for t in text]
    batch = tokenizer(sentences, padding=True, truncation=True, max_length=256, return_tensors="pt").to(encoder.device)
    with torch.inference_mode():
        hidden = encoder(**batch).last_hidden_state
    mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
    pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
    return torch.nn.functional.normalize(pooled, dim=1).cpu().numpy()
