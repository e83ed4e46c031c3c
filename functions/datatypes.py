"""Open Inference Protocol datatypes and their numpy equivalents."""
from __future__ import annotations

import numpy as np

from .errors import InvalidInput

# OIP datatype -> numpy dtype (little-endian, as the binary tensor extension requires).
_TO_NUMPY: dict[str, np.dtype] = {
    "BOOL": np.dtype("bool"),
    "UINT8": np.dtype("<u1"),
    "UINT16": np.dtype("<u2"),
    "UINT32": np.dtype("<u4"),
    "UINT64": np.dtype("<u8"),
    "INT8": np.dtype("<i1"),
    "INT16": np.dtype("<i2"),
    "INT32": np.dtype("<i4"),
    "INT64": np.dtype("<i8"),
    "FP16": np.dtype("<f2"),
    "FP32": np.dtype("<f4"),
    "FP64": np.dtype("<f8"),
    "BYTES": np.dtype("object"),
}

DATATYPES: tuple[str, ...] = tuple(_TO_NUMPY)


def to_numpy_dtype(datatype: str) -> np.dtype:
    """The numpy dtype for an OIP datatype; raises InvalidInput for unknown names."""
    try:
        return _TO_NUMPY[datatype]
    except (KeyError, TypeError):
        raise InvalidInput(
            f"unknown datatype {datatype!r}: expected one of {', '.join(DATATYPES)}"
        ) from None


def from_numpy_dtype(dtype: np.dtype) -> str:
    """The OIP datatype for a numpy dtype (strings, bytes and objects map to BYTES)."""
    dtype = np.dtype(dtype)
    if dtype.kind in ("U", "S", "O"):
        return "BYTES"
    for name, candidate in _TO_NUMPY.items():
        if candidate.kind == dtype.kind and candidate.itemsize == dtype.itemsize:
            return name
    raise InvalidInput(f"numpy dtype {dtype} has no Open Inference Protocol datatype")
