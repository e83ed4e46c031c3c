"""Tensor declarations (name, datatype, shape) and the checks requests must pass."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .datatypes import DATATYPES
from .errors import InvalidInput
from .protocol.tensor_data import array_from_json, check_shape, nested_shape


def _check_datatype(value: str) -> str | None:
    return None if value in DATATYPES else f"{value!r} is not a datatype; use one of {', '.join(DATATYPES)}"


def _check_shape(value: list[int]) -> str | None:
    bad = [d for d in value if d < -1]
    return f"dimensions must be >= 0, or -1 for a variable size (got {bad[0]})" if bad else None


@dataclass(frozen=True)
class Tensor:
    """One declared input or output: ``Tensor("input-0", "FP32", [-1, 64])``; -1 is a variable dim."""

    name: str
    datatype: str = field(metadata={"check": _check_datatype})
    shape: list[int] = field(metadata={"check": _check_shape})

    def __post_init__(self) -> None:
        problem = _check_datatype(self.datatype) or _check_shape(list(self.shape))
        if problem:
            raise ValueError(f"tensor {self.name!r}: {problem}")
        object.__setattr__(self, "shape", [int(d) for d in self.shape])

    def metadata(self) -> dict:
        """The tensor as OIP model metadata lists it."""
        return {"name": self.name, "datatype": self.datatype, "shape": list(self.shape)}

    def check_shape(self, shape: tuple[int, ...] | list[int]) -> None:
        """Raise InvalidInput unless ``shape`` matches the declaration (-1 matches any size)."""
        if len(shape) != len(self.shape) or any(d != -1 and d != s for d, s in zip(self.shape, shape)):
            raise InvalidInput(f"input {self.name!r} has shape {list(shape)} but the model expects {self.shape}")

    def check_datatype(self, datatype: str) -> None:
        """Raise InvalidInput unless ``datatype`` is the declared one."""
        if datatype != self.datatype:
            raise InvalidInput(
                f"input {self.name!r} has datatype {datatype} but the model expects {self.datatype}"
            )

    def coerce(self, value: object) -> np.ndarray:
        """Turn JSON data (a V1 instances list, a CloudEvent payload) into an array of this tensor.

        The same checks as V2 JSON ``data``: element types, ranges, a rectangular nesting.
        """
        where = f"input {self.name!r}"
        if not isinstance(value, list):
            raise InvalidInput(f"{where} must be a JSON array, got {type(value).__name__}")
        shape = check_shape(nested_shape(value), where)
        array = array_from_json(value, self.datatype, shape, where)
        self.check_shape(array.shape)
        return array
