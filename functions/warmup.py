"""The warm-up inference: one request on zeros through the whole pipeline before a process serves."""
from __future__ import annotations

import numpy as np

from .datatypes import to_numpy_dtype
from .protocol.v2 import InferTensor
from .tensors import Tensor

WARMUP_ENV = "KFUNC_WARMUP"
WARMUP_REQUEST_ID = "warm-up"


def zero_tensors(inputs: list[Tensor]) -> list[InferTensor]:
    """Zeros (empty strings for BYTES) shaped as declared, variable (-1) dims as 1."""
    return [InferTensor(t.name, t.datatype, _shape(t), _zeros(t)) for t in inputs]


def _shape(tensor: Tensor) -> list[int]:
    return [1 if dim == -1 else dim for dim in tensor.shape]


def _zeros(tensor: Tensor) -> np.ndarray:
    if tensor.datatype == "BYTES":
        return np.full(_shape(tensor), b"", dtype=object)
    return np.zeros(_shape(tensor), dtype=to_numpy_dtype(tensor.datatype))
