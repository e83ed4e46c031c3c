"""Tests for {{name}}: the handlers on the models in models/ (no server needed), and the repository
as kfunc reads it. Run: pytest"""
import sys
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import save_file

from functions import Context
from functions.function import Function

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
import func  # noqa: E402

BATCH = np.array([[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]], dtype=np.float32)


def context(name: str, version: str | None = None) -> Context:
    return Context(request_id="test", protocol="v2", model_name=name, model_version=version)


def test_each_model_directory_gives_its_own_model():
    red = func.predict(func.setup(ROOT / "models" / "red", context("red")), BATCH)
    green = func.predict(func.setup(ROOT / "models" / "green", context("green")), BATCH)
    assert red.shape == green.shape == (2, func.CLASSES)
    np.testing.assert_allclose(red.sum(axis=1), 1.0, rtol=1e-5)
    assert not np.allclose(red, green)


def test_trained_weights_in_a_model_directory_are_served(tmp_path):
    trained = func.build(0)
    with torch.no_grad():
        trained[-1].bias.copy_(torch.tensor([0.0, 0.0, 100.0]))  # always class 2
    save_file(trained.state_dict(), tmp_path / "model.safetensors")
    probabilities = func.predict(func.setup(tmp_path, context("trained")), BATCH)
    assert probabilities.argmax(axis=1).tolist() == [2, 2]


def test_the_repository_serves_every_model_and_version():
    function = Function.from_directory(ROOT)
    function.load()  # the pinned models, as the server does before it forks
    assert function.registry.names() == ["blue", "green", "red"]
    for name, version in (("red", None), ("blue", "1"), ("blue", "2")):
        answer = function.infer(BATCH, context(name, version))
        np.testing.assert_allclose(answer, func.predict(func.setup(
            ROOT / "models" / name / (version or ""), context(name, version)), BATCH), rtol=1e-6)
