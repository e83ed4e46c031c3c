"""KServe V1 protocol: ``{"instances"|"inputs": [...]}`` in, ``{"predictions": [...]}`` out."""
from __future__ import annotations

from typing import Any

from ..errors import InvalidInput
from .jsonutil import dumps, loads


def decode_request(body: bytes) -> Any:
    """The request's instances (or TF-style ``inputs``); InvalidInput names what is wrong."""
    payload = loads(body)
    return instances_of(payload)


def instances_of(payload: Any) -> Any:
    """The instances of a decoded V1 payload."""
    if not isinstance(payload, dict):
        raise InvalidInput('a V1 request must be a JSON object with "instances" (or "inputs")')
    keys = [k for k in ("instances", "inputs") if k in payload]
    if len(keys) != 1:
        raise InvalidInput('a V1 request needs exactly one of "instances" or "inputs"')
    instances = payload[keys[0]]
    if not isinstance(instances, (list, dict)):
        raise InvalidInput(f'"{keys[0]}" must be a list (or a mapping of named inputs)')
    return instances


def encode_predictions(predictions: Any) -> bytes:
    return dumps({"predictions": predictions})


def encode_explanations(explanations: Any) -> bytes:
    return dumps({"explanations": explanations})
