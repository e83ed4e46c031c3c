"""The model kinds of the density benchmark: the function's source, how one model of the
repository is written from its seed, and the V2 request body that reaches it.

- ``mlp``: 64 -> 1024 -> 192, ~1 MiB of weights as ``model.safetensors`` (loads in ~1 ms: the
  registry's own bookkeeping shows).
- ``minilm``: a BERT with all-MiniLM-L6-v2's shape (6 layers, hidden 384, vocabulary 30522,
  ~90 MB as ``save_pretrained`` writes it) and random weights from the seed (nothing is
  downloaded); its predictor mean-pools the last hidden state into a 384-d embedding.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

MLP_FUNC = '''
import torch
from safetensors.torch import load_file

from functions import Tensor, load, predictor

torch.set_num_threads(1)


def build():
    return torch.nn.Sequential(torch.nn.Linear(64, 1024), torch.nn.ReLU(), torch.nn.Linear(1024, 192)).eval()


@load
def setup(model_dir):
    with torch.device("meta"):  # no initialisation: the weights come from the file (memory-mapped)
        model = build()
    model.load_state_dict(load_file(model_dir / "model.safetensors"), assign=True)
    return model


@predictor(inputs=[Tensor("x", "FP32", [-1, 64])], outputs=[Tensor("y", "FP32", [-1, 192])])
def predict(model, x):
    with torch.inference_mode():
        return model(torch.from_numpy(x)).numpy()
'''

MINILM_FUNC = '''
import torch
from transformers import BertModel

from functions import Tensor, load, predictor

torch.set_num_threads(1)


@load
def setup(model_dir):
    return BertModel.from_pretrained(model_dir, add_pooling_layer=False).eval()


@predictor(inputs=[Tensor("ids", "INT64", [-1, -1])], outputs=[Tensor("embedding", "FP32", [-1, 384])])
def predict(model, ids):
    with torch.inference_mode():
        return model(input_ids=torch.from_numpy(ids)).last_hidden_state.mean(dim=1).numpy()
'''


def write_mlp(model_dir: Path, seed: int) -> None:
    import torch
    from safetensors.torch import save_file

    torch.manual_seed(seed)
    mlp = torch.nn.Sequential(torch.nn.Linear(64, 1024), torch.nn.ReLU(), torch.nn.Linear(1024, 192))
    save_file(mlp.state_dict(), model_dir / "model.safetensors")


def write_minilm(model_dir: Path, seed: int) -> None:
    import torch
    from transformers import BertConfig, BertModel

    torch.manual_seed(seed)
    config = BertConfig(vocab_size=30522, hidden_size=384, num_hidden_layers=6, num_attention_heads=12,
                        intermediate_size=1536, max_position_embeddings=512)
    BertModel(config, add_pooling_layer=False).save_pretrained(model_dir)


@dataclass(frozen=True)
class ModelKind:
    """One kind of model the benchmark can fill a repository with."""

    func: str
    write: Callable[[Path, int], None]
    body: str


KINDS = {
    "mlp": ModelKind(MLP_FUNC, write_mlp, json.dumps(
        {"inputs": [{"name": "x", "datatype": "FP32", "shape": [1, 64], "data": [0.5] * 64}]})),
    "minilm": ModelKind(MINILM_FUNC, write_minilm, json.dumps(
        {"inputs": [{"name": "ids", "datatype": "INT64", "shape": [1, 16], "data": list(range(101, 117))}]})),
}
