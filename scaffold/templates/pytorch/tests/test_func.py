"""Tests for {{name}}: they call the handlers directly, no server needed. Run: pytest"""
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import func  # noqa: E402

BATCH = np.array([[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]], dtype=np.float32)


def test_predict_gives_one_probability_row_per_input():
    probabilities = func.predict(func.setup(None), BATCH)
    assert probabilities.shape == (2, func.CLASSES)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)


def test_every_replica_builds_the_same_model():
    np.testing.assert_array_equal(func.predict(func.setup(None), BATCH), func.predict(func.setup(None), BATCH))


@pytest.mark.parametrize("weights_file", ["model.safetensors", "model.pt"])
def test_trained_weights_in_the_model_directory_are_served(tmp_path, weights_file):
    trained = func.build()
    with torch.no_grad():
        trained[-1].bias.copy_(torch.tensor([0.0, 0.0, 100.0]))  # always class 2
    if weights_file.endswith(".safetensors"):
        save_file(trained.state_dict(), tmp_path / weights_file)
    else:
        torch.save(trained.state_dict(), tmp_path / weights_file)
    probabilities = func.predict(func.setup(tmp_path), BATCH)
    assert probabilities.argmax(axis=1).tolist() == [2, 2]
