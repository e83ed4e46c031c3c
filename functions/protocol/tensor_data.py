"""Tensor shapes and JSON ``data`` of the Open Inference Protocol <-> numpy arrays.

JSON ``data`` is either flat (row-major, ``prod(shape)`` elements) or nested exactly as the
shape says. Numbers are checked and converted with numpy in bulk; only BYTES, whose elements
are Python strings anyway, is handled element by element.

Non-finite floats: JSON has no NaN or Infinity, so JSON outputs write them as ``null`` (what
orjson, and so KServe, does) and ``null`` in FP16/FP32/FP64 ``data`` reads back as NaN. An
infinity therefore comes back as NaN over JSON; the binary extension keeps every value exactly.
"""
from __future__ import annotations

import math
from itertools import chain
from typing import Any

import numpy as np

from ..datatypes import DATATYPES, to_numpy_dtype
from ..errors import InvalidInput, KFuncError

MAX_DIMS = 32  # numpy's own limit on 1.x; deeper shapes are certainly malformed
MAX_EXTENT = 2**40  # product of the non-zero dimensions; far past any body limit, well inside numpy's

_FLOAT_DATATYPES = ("FP16", "FP32", "FP64")
_STRINGS, _BOOLEANS = frozenset({str}), frozenset({bool})
_NUMBERS, _FLOATS = frozenset({int, float}), frozenset({int, float, type(None)})
_TYPE_NAMES = {str: "strings", bool: "booleans", type(None): "nulls", list: "arrays",
               dict: "objects", int: "integers", float: "numbers"}


def check_datatype(value: Any, where: str) -> str:
    """``value`` as a known OIP datatype, else InvalidInput naming the tensor."""
    if value not in DATATYPES:
        raise InvalidInput(f"{where}: 'datatype' {value!r} is not one of {', '.join(DATATYPES)}")
    return value


def check_shape(value: Any, where: str) -> list[int]:
    """``value`` as a shape (a list of non-negative integers), else InvalidInput naming the tensor."""
    if not isinstance(value, list):
        raise InvalidInput(f"{where}: 'shape' must be a list of non-negative integers, got {value!r}")
    if len(value) > MAX_DIMS:
        raise InvalidInput(f"{where}: 'shape' has {len(value)} dimensions; at most {MAX_DIMS} are supported")
    extent = 1
    for d in value:
        if type(d) is not int or d < 0:
            raise InvalidInput(f"{where}: 'shape' {value} must hold non-negative integers (found {d!r})")
        if d:
            extent *= d
    if extent > MAX_EXTENT:
        raise InvalidInput(f"{where}: 'shape' {value} is too large")
    return value


def nested_shape(data: Any) -> list[int]:
    """The shape nested JSON lists have, read along their first elements (checked later)."""
    shape = []
    while isinstance(data, list):
        shape.append(len(data))
        data = data[0] if data else None
    return shape


def element_count(shape: list[int]) -> int:
    """How many elements a tensor of ``shape`` holds (1 for a scalar shape ``[]``)."""
    return math.prod(shape)


def array_from_json(data: Any, datatype: str, shape: list[int], where: str) -> np.ndarray:
    """JSON ``data`` (flat or nested) as an array of ``shape``; InvalidInput says what does not fit."""
    if not isinstance(data, list):
        raise InvalidInput(f"{where}: 'data' must be a JSON array, got {type(data).__name__}")
    leaves, types = _leaves(data, shape, where)
    if datatype == "BYTES":
        return _strings_array(leaves, types, where).reshape(shape)
    return _numbers_array(leaves, types, datatype, where).reshape(shape)


def _leaves(data: list, shape: list[int], where: str) -> tuple[list, set[type]]:
    """The elements of flat or nested ``data`` in row-major order, checked against ``shape``,
    and the types they have."""
    count = element_count(shape)
    top_types = set(map(type, data))
    if list not in top_types or len(shape) < 2:
        if len(data) != count:
            raise InvalidInput(
                f"{where} has shape {shape} ({count} elements) but 'data' holds {len(data)} elements"
            )
        return data, top_types
    if top_types != {list}:
        raise InvalidInput(f"{where}: 'data' mixes arrays and values; send it flat or nested as shape {shape}")
    level = [data]
    for depth, dim in enumerate(shape):
        wrong = set(map(len, level)) - {dim}
        if wrong:
            raise InvalidInput(
                f"{where}: nested 'data' has {wrong.pop()} elements at depth {depth} but shape {shape} "
                f"says {dim}; nest it as the shape says or send it flat"
            )
        level = list(chain.from_iterable(level))
        if depth < len(shape) - 1 and set(map(type, level)) - {list}:
            raise InvalidInput(f"{where}: nested 'data' is shallower than shape {shape}; nest it fully or send it flat")
    return level, set(map(type, level))


def _reject_types(types: set[type], allowed: frozenset[type], expected: str, datatype: str, where: str) -> None:
    """InvalidInput if any of the elements' ``types`` is not allowed for ``datatype``."""
    if types <= allowed:
        return
    names = " and ".join(sorted(_TYPE_NAMES.get(t, t.__name__) for t in types - allowed))
    raise InvalidInput(f"{where}: {datatype} 'data' holds {names}; expected {expected}")


def _strings_array(leaves: list, types: set[type], where: str) -> np.ndarray:
    _reject_types(types, _STRINGS, "strings", "BYTES", where)
    array = np.empty(len(leaves), dtype=object)
    array[:] = leaves
    return array


def _numbers_array(leaves: list, types: set[type], datatype: str, where: str) -> np.ndarray:
    dtype = to_numpy_dtype(datatype)
    if datatype == "BOOL":
        _reject_types(types, _BOOLEANS, "true or false", datatype, where)
        return np.array(leaves, dtype=dtype)
    if datatype in _FLOAT_DATATYPES:
        _reject_types(types, _FLOATS, "numbers (null for NaN)", datatype, where)
        with np.errstate(over="ignore"):
            array = np.array(leaves, dtype=dtype)
        if datatype != "FP64" and not np.isfinite(array).all():  # rare: NaN, inf or an overflow
            wide = np.array(leaves, dtype=np.float64)
            if np.any(np.isinf(array) & np.isfinite(wide)):
                raise InvalidInput(f"{where}: a value is too large for {datatype} (max {np.finfo(dtype).max})")
        return array
    _reject_types(types, _NUMBERS, "integers", datatype, where)
    info = np.iinfo(dtype)
    out_of_range = InvalidInput(f"{where}: a value is out of range for {datatype} ({info.min}..{info.max})")
    if float not in types:
        try:
            return np.array(leaves, dtype=dtype)
        except OverflowError:
            raise out_of_range from None
    wide = np.array(leaves, dtype=np.float64)
    if np.any(np.floor(wide) != wide):
        raise InvalidInput(f"{where}: {datatype} 'data' holds non-integer numbers")
    if np.any((wide < float(info.min)) | (wide >= float(info.max) + 1)):
        raise out_of_range
    return wide.astype(dtype)


def output_array(data: Any, datatype: str, shape: list[int], where: str) -> np.ndarray:
    """Outgoing tensor data as an array of ``datatype`` holding ``prod(shape)`` elements.

    Numbers are cast within their kind (float64 -> FP32, int64 -> INT8...); a mismatch is the
    function's fault, so it raises a plain KFuncError (HTTP 500).
    """
    if datatype not in DATATYPES:
        raise KFuncError(f"{where}: datatype {datatype!r} is not one of {', '.join(DATATYPES)}")
    array = np.asarray(data)
    count = element_count(shape)
    if array.size != count:
        raise KFuncError(f"{where} has shape {shape} ({count} elements) but its data holds {array.size}")
    if datatype == "BYTES":
        return array
    dtype = to_numpy_dtype(datatype)
    if not np.can_cast(array.dtype, dtype, casting="same_kind"):
        raise KFuncError(f"{where}: {array.dtype} data cannot be sent as {datatype}")
    return array.astype(dtype, copy=False)


def array_to_json(array: np.ndarray, datatype: str, where: str) -> Any:
    """An array as flat row-major JSON ``data`` (a numpy array orjson serialises, or strings)."""
    if datatype != "BYTES":
        return np.ascontiguousarray(array.reshape(-1))
    elements = array.reshape(-1).tolist()
    if set(map(type, elements)) <= {str}:
        return elements  # the common case, checked without a Python-level loop
    return [_as_text(element, where) for element in elements]


def _as_text(element: Any, where: str) -> str:
    if isinstance(element, str):
        return str(element)
    if isinstance(element, bytes):
        try:
            return element.decode("utf-8")
        except UnicodeDecodeError:
            raise KFuncError(f"{where} holds bytes that are not UTF-8; send it as binary data") from None
    raise KFuncError(f"{where}: BYTES elements must be str or bytes, got {type(element).__name__}")
