"""{{name}}: a pipeline of three handlers on a loan-application scorer.

``@transformer`` turns JSON records (``{"age": 41, "income": 52000, "debt": 9000}``) into
scaled feature rows, ``@predictor`` scores the rows with a small PyTorch model, and
``@transformer.post`` turns the scores into labelled results. The transformer receives the
request's JSON as sent (V1 ``instances``, or a CloudEvent's data).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from functions import InvalidInput, Tensor, load, predictor, transformer
from functions.weights import with_weights

torch.set_num_threads(1)  # one intra-op thread per worker: kfunc scales with workers and replicas

FIELDS = ("age", "income", "debt")
MEANS = np.array([40.0, 50_000.0, 10_000.0], dtype=np.float32)
SCALES = np.array([12.0, 20_000.0, 8_000.0], dtype=np.float32)
THRESHOLD = 0.5


def build() -> torch.nn.Module:
    """The scorer, with weights from a fixed seed (every replica computes the same scores)."""
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(len(FIELDS), 8), torch.nn.Tanh(), torch.nn.Linear(8, 1)).eval()


@load
def setup(model_dir: Path | None) -> torch.nn.Module:
    return with_weights(build(), model_dir)  # model.safetensors, or a state dict in model.pt (weights_only)


@transformer
def to_features(records: Any) -> np.ndarray:
    """JSON records (one object, or a list of them) -> scaled feature rows; a bad record is a 400."""
    rows = [records] if isinstance(records, dict) else records
    if not isinstance(rows, list) or not rows:
        raise InvalidInput(f"send a record or a list of records with the fields {', '.join(FIELDS)}")
    features = np.empty((len(rows), len(FIELDS)), dtype=np.float32)
    for i, row in enumerate(rows):
        for j, field in enumerate(FIELDS):
            value = row.get(field) if isinstance(row, dict) else None
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise InvalidInput(f"record {i}: field {field!r} must be a number (got {value!r})")
            features[i, j] = value
    return (features - MEANS) / SCALES


@predictor(inputs=[Tensor("features", "FP32", [-1, len(FIELDS)])], outputs=[Tensor("score", "FP32", [-1])])
def score(model: torch.nn.Module, features: np.ndarray) -> np.ndarray:
    """Scaled feature rows -> one score in [0, 1] per row."""
    with torch.inference_mode():
        return torch.sigmoid(model(torch.from_numpy(features))).squeeze(1).numpy()


@transformer.post
def label(scores: np.ndarray) -> list[dict[str, Any]]:
    """Scores -> ``{"decision", "score"}`` per record."""
    return [{"decision": "approve" if s >= THRESHOLD else "review", "score": round(float(s), 4)} for s in scores]
