"""The ``scaled`` test function (tests/store/funcs/scaled): its model files and one inference."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import requests

FUNCS = Path(__file__).parent / "funcs"
SCALED = FUNCS / "scaled"


def scale_file(scale: list[float]) -> bytes:
    """The bytes of a ``scale.npy``."""
    from io import BytesIO

    buffer = BytesIO()
    np.save(buffer, np.array(scale, dtype=np.float32))
    return buffer.getvalue()


def write_scale(directory: Path, scale: list[float]) -> Path:
    """A local model directory for ``scaled``."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "scale.npy").write_bytes(scale_file(scale))
    return directory


def infer_scaled(url: str) -> dict[str, list]:
    """Outputs by name for the input ``[[1, 1, 1]]``; any status but 200 fails with the answer."""
    answer = requests.post(url + "/v2/models/scaled/infer", timeout=5, json={
        "inputs": [{"name": "x", "datatype": "FP32", "shape": [1, 3], "data": [1, 1, 1]}]})
    assert answer.status_code == 200, answer.text
    return {o["name"]: o["data"] for o in answer.json()["outputs"]}
