"""Tests for {{name}}: they call the handlers directly with a Context as kfunc builds it. Run: pytest"""
import sys
from pathlib import Path

import numpy as np
import pytest

from functions import Context, InvalidInput

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import func  # noqa: E402

EVENT = {"specversion": "1.0", "type": func.ACCEPTED_TYPE, "source": "/plant/7", "id": "42"}


def handle(data, event=EVENT):
    """What kfunc does with an event: transformer, predictor, post-transformer."""
    context = Context(request_id="test", protocol="cloudevent" if event else "http", event=event)
    model = func.setup(None)
    return func.to_event(func.score(model, func.read_event(data, context)), context)


def test_a_normal_reading_is_not_an_anomaly():
    answer = handle({"sensor": "s1", "values": [19.5, 20.4, 21.0]})
    assert answer == {"sensor": "s1", "score": pytest.approx(0.4), "anomaly": False, "observedBy": "/plant/7"}


def test_a_spike_is_an_anomaly():
    assert handle({"sensor": "s1", "values": [20.0, 35.0]})["anomaly"] is True


def test_plain_json_without_an_event_is_scored_too():
    assert handle({"sensor": "s2", "values": [20.0]}, event=None) == {"sensor": "s2", "score": 0.0, "anomaly": False}


def test_an_event_of_another_type_is_refused():
    with pytest.raises(InvalidInput, match=func.ACCEPTED_TYPE):
        handle({"sensor": "s1", "values": [20.0]}, event={**EVENT, "type": "com.example.other"})


def test_a_baseline_in_the_model_directory_is_used(tmp_path):
    np.save(tmp_path / "baseline.npy", np.array([100.0, 1.0]))
    assert func.setup(tmp_path) == {"mean": 100.0, "std": 1.0}
