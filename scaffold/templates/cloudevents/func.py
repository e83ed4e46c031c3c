"""{{name}}: CloudEvents in, CloudEvents out; scores sensor readings for anomalies.

An event of type ``com.example.sensor.reading`` with data ``{"sensor": "s1", "values": [...]}``
comes in (from a Knative Broker through a Trigger, or posted to ``/``). ``@transformer`` reads the
event's attributes and data, ``@predictor`` scores the readings, ``@transformer.post`` builds the
response event's data. The response event's type is ``runtime.event-type`` in kfunc.yaml.
Plain JSON posted to ``/`` works the same, without event attributes.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from functions import Context, InvalidInput, load, predictor, transformer

ACCEPTED_TYPE = "com.example.sensor.reading"
THRESHOLD = 3.0


@load
def setup(model_dir: Path | None) -> dict[str, float]:
    """The expected reading and its spread; a model directory may hold them in baseline.npy."""
    if model_dir is not None and (Path(model_dir) / "baseline.npy").exists():
        mean, std = np.load(Path(model_dir) / "baseline.npy")
        return {"mean": float(mean), "std": float(std)}
    return {"mean": 20.0, "std": 2.5}


@transformer
def read_event(data: Any, context: Context) -> dict[str, Any]:
    """The event's data and attributes -> the readings to score plus what the answer needs."""
    event = context.event or {}
    if event and event.get("type") != ACCEPTED_TYPE:
        raise InvalidInput(f"event type {event.get('type')!r} is not handled; send {ACCEPTED_TYPE}")
    if not isinstance(data, dict) or not isinstance(data.get("values"), list) or not data["values"]:
        raise InvalidInput('event data must be {"sensor": "...", "values": [numbers...]}')
    try:
        values = np.asarray(data["values"], dtype=np.float64)
    except (TypeError, ValueError):
        raise InvalidInput("data.values must be a list of numbers") from None
    return {"sensor": str(data.get("sensor", "unknown")), "source": event.get("source"), "values": values}


@predictor
def score(model: dict[str, float], reading: dict[str, Any]) -> dict[str, Any]:
    """The largest distance of a value from the baseline, in standard deviations."""
    deviations = np.abs(reading["values"] - model["mean"]) / model["std"]
    return {**reading, "score": float(deviations.max())}


@transformer.post
def to_event(result: dict[str, Any], context: Context) -> dict[str, Any]:
    """The response event's data."""
    answer = {"sensor": result["sensor"], "score": round(result["score"], 3), "anomaly": result["score"] > THRESHOLD}
    if result["source"]:
        answer["observedBy"] = result["source"]
    return answer
