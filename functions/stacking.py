"""Stacking requests' inputs along the first axis for a batching predictor, and splitting its result.

What stacks: numpy arrays and torch tensors with a first (batch) axis, lists (of rows), and
mappings of those whose members agree on the row count. Requests stack together only when
their ``signature`` (kinds, dtypes, every dimension but the first) is the same.
"""
from __future__ import annotations

import sys
from collections.abc import Mapping
from itertools import chain
from typing import Any, Hashable

import numpy as np

from .errors import KFuncError


class Unstackable(ValueError):
    """The value has no first axis to stack along; the message says why."""


def _is_torch(value: Any) -> bool:
    return type(value).__module__.startswith("torch") and hasattr(value, "dim")


def rows(value: Any, where: str = "the input") -> int:
    """How many rows ``value`` holds along its first axis; Unstackable if it has none."""
    if isinstance(value, np.ndarray) or _is_torch(value):
        if len(value.shape) == 0:
            raise Unstackable(f"{where} is a scalar; a batching predictor takes arrays with a first (batch) axis")
        return int(value.shape[0])
    if isinstance(value, (list, tuple)):
        return len(value)
    if isinstance(value, Mapping):
        counts = {name: rows(member, f"input {name!r}") for name, member in value.items()}
        if len(set(counts.values())) > 1:
            listed = ", ".join(f"{name!r} has {count}" for name, count in counts.items())
            raise Unstackable(f"the inputs differ in their first (batch) dimension ({listed}); "
                              "a batching predictor needs the same number of rows in each")
        return next(iter(counts.values()), 0)
    raise Unstackable(f"{where} is {type(value).__name__}; a batching predictor takes arrays, "
                      "tensors, lists or a mapping of them")


def signature(value: Any) -> Hashable:
    """What must agree for two values to stack: kind, dtype, device and the shape past the first axis."""
    if isinstance(value, np.ndarray):
        return ("array", value.dtype.str, value.shape[1:])
    if _is_torch(value):
        return ("tensor", str(value.dtype), tuple(value.shape[1:]), str(value.device))
    if isinstance(value, (list, tuple)):
        return ("list",)
    return ("mapping", tuple(sorted((str(name), signature(member)) for name, member in value.items())))


def stack(values: list[Any]) -> Any:
    """Values of one signature as one, along the first axis."""
    first = values[0]
    if isinstance(first, np.ndarray):
        return np.concatenate(values, axis=0)
    if _is_torch(first):
        return sys.modules["torch"].cat(values, dim=0)
    if isinstance(first, (list, tuple)):
        return list(chain.from_iterable(values))
    return {name: stack([value[name] for value in values]) for name in first}


def split(result: Any, sizes: list[int]) -> list[Any]:
    """A batched result cut back into one part per request, ``sizes`` rows each."""
    total = sum(sizes)
    if isinstance(result, Mapping):
        parts = {name: split(member, sizes) for name, member in result.items()}
        return [{name: parts[name][index] for name in parts} for index in range(len(sizes))]
    count = _row_count(result)
    if count is None:
        raise KFuncError(f"a batching predictor must return an array, tensor or list with one row per input row "
                         f"(or a mapping of them); it returned {type(result).__name__}")
    if count != total:
        raise KFuncError(f"a batching predictor must return one row per input row: it returned {count} "
                         f"rows for a batch of {total}")
    offsets = np.cumsum([0, *sizes]).tolist()
    return [result[start:end] for start, end in zip(offsets, offsets[1:])]


def _row_count(result: Any) -> int | None:
    if isinstance(result, np.ndarray) or _is_torch(result):
        return int(result.shape[0]) if len(result.shape) else None
    if isinstance(result, (list, tuple)):
        return len(result)
    return None
