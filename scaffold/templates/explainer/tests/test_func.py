"""Tests for {{name}}: they call the handlers directly, no server needed. Run: pytest"""
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import func  # noqa: E402

ROWS = np.array([[3, 1.2, 0.5, 0.3, 2], [1, 0.4, 1.5, 1.1, 0]], dtype=np.float32)


def test_explain_attributes_each_feature_of_each_row():
    model = func.setup(None)
    explanation = func.explain(model, ROWS)
    assert explanation["attributions"].shape == ROWS.shape
    np.testing.assert_allclose(explanation["price"], func.predict(model, ROWS), rtol=1e-5)


def test_a_zero_feature_gets_no_attribution():
    attributions = func.explain(func.setup(None), ROWS)["attributions"]
    assert attributions[1, 4] == 0.0
    assert np.count_nonzero(attributions[0]) == len(func.FEATURES)


def test_for_a_linear_model_attributions_add_up_to_the_prediction_minus_the_baseline():
    linear = torch.nn.Sequential(torch.nn.Linear(len(func.FEATURES), 1)).eval()
    explanation = func.explain(linear, ROWS)
    baseline = func.predict(linear, np.zeros_like(ROWS))
    np.testing.assert_allclose(explanation["attributions"].sum(axis=1), explanation["price"] - baseline, rtol=1e-4)
