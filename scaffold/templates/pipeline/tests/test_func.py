"""Tests for {{name}}: they call the handlers directly, no server needed. Run: pytest"""
import sys
from pathlib import Path

import numpy as np
import pytest

from functions import InvalidInput

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import func  # noqa: E402

RECORDS = [{"age": 41, "income": 52000, "debt": 9000}, {"age": 23, "income": 18000.5, "debt": 30000}]


def pipeline(records):
    """What kfunc does with a request: transformer, predictor, post-transformer."""
    model = func.setup(None)
    return func.label(func.score(model, func.to_features(records)))


def test_each_record_gets_a_decision_and_a_score():
    results = pipeline(RECORDS)
    assert [set(r) for r in results] == [{"decision", "score"}] * 2
    assert all(0.0 <= r["score"] <= 1.0 for r in results)
    assert all(r["decision"] == ("approve" if r["score"] >= func.THRESHOLD else "review") for r in results)


def test_a_single_record_is_a_batch_of_one():
    assert pipeline(RECORDS[0]) == pipeline(RECORDS[:1])


def test_features_are_scaled_around_the_typical_applicant():
    features = func.to_features({"age": 40, "income": 50000, "debt": 10000})
    np.testing.assert_allclose(features, np.zeros((1, 3)))


@pytest.mark.parametrize("record, message", [
    ({"age": 41, "income": 52000}, "'debt' must be a number"),
    ({"age": "old", "income": 52000, "debt": 0}, "'age' must be a number"),
])
def test_a_bad_record_is_refused_naming_the_field(record, message):
    with pytest.raises(InvalidInput, match=message):
        func.to_features([record])
