"""Between the wire and the handlers: decoded request data -> handler input, handler result -> tensors."""
from __future__ import annotations

from typing import Any

import numpy as np

from .datatypes import from_numpy_dtype, to_numpy_dtype
from .errors import InvalidInput
from .protocol.v2 import InferTensor
from .tensors import Tensor

DEFAULT_OUTPUT = "output-0"
_TEXT_KINDS = ("U", "S")  # numpy str and bytes arrays: sent as BYTES, elements as objects


def bind_tensors(tensors: list[InferTensor], specs: list[Tensor]) -> Any:
    """V2 inputs -> an array (one input) or a dict name->array, checked against the declarations."""
    if specs:
        declared = {s.name: s for s in specs}
        for tensor in tensors:
            if tensor.name not in declared:
                raise InvalidInput(f"unknown input {tensor.name!r}; the model takes {', '.join(declared)}")
        if len(tensors) != len(declared):  # tensor names are unique (the codec checks)
            names = {t.name for t in tensors}
            missing = next(n for n in declared if n not in names)
            raise InvalidInput(f"missing input {missing!r}; the model takes {', '.join(declared)}")
        for tensor in tensors:
            spec = declared[tensor.name]
            spec.check_datatype(tensor.datatype)
            spec.check_shape(tensor.shape)
    if len(tensors) == 1:
        return tensors[0].data
    return {t.name: t.data for t in tensors}


def bind_json(value: Any, specs: list[Tensor]) -> Any:
    """V1 instances or JSON event data -> an array or dict of arrays, as the declarations say.

    With no declarations, rectangular numeric or string data becomes an array and anything
    else (records, mixed types) is passed on as it came.
    """
    if len(specs) == 1:
        return specs[0].coerce(value)
    if specs:
        columns = _columns(value, [s.name for s in specs])
        return {s.name: s.coerce(columns[s.name]) for s in specs}
    try:
        array = np.asarray(value)
    except (ValueError, TypeError):
        return value
    return array if array.dtype.kind in "biufU" else value


def _columns(value: Any, names: list[str]) -> dict[str, Any]:
    """Named inputs from TF-style rows (``[{"a": .., "b": ..}, ...]``) or columns (``{"a": [..]}``)."""
    if isinstance(value, dict):
        rows = [value]
    elif isinstance(value, list) and all(isinstance(row, dict) for row in value):
        rows = value
    else:
        raise InvalidInput(f"the model takes named inputs ({', '.join(names)}): send rows of objects or an object of columns")
    missing = [n for n in names if any(n not in row for row in rows)]
    if missing:
        raise InvalidInput(f"missing input {missing[0]!r}; the model takes {', '.join(names)}")
    if isinstance(value, dict):
        return value
    return {n: [row[n] for row in rows] for n in names}


def as_array(value: Any) -> np.ndarray:
    """A handler result (array, torch tensor, list, scalar) as a numpy array."""
    if type(value) is np.ndarray:
        array = value
    elif hasattr(value, "detach") and hasattr(value, "numpy"):
        array = value.detach().cpu().numpy()
    else:
        array = np.asarray(value)
    if array.dtype.kind in _TEXT_KINDS:
        array = array.astype(object)
    return array


def output_tensors(result: Any, specs: list[Tensor]) -> list[InferTensor]:
    """A handler result as V2 output tensors, named and typed as declared."""
    if isinstance(result, dict):
        items = list(result.items())
    else:
        items = [(specs[0].name if specs else DEFAULT_OUTPUT, result)]
    declared = {s.name: s for s in specs}
    tensors = []
    for name, value in items:
        array = as_array(value)
        spec = declared.get(name)
        if spec is not None and spec.datatype != "BYTES":
            array = array.astype(to_numpy_dtype(spec.datatype), copy=False)
        datatype = spec.datatype if spec is not None else from_numpy_dtype(array.dtype)
        tensors.append(InferTensor(name=name, datatype=datatype, shape=list(array.shape), data=array))
    return tensors


def json_value(result: Any) -> Any:
    """A handler result as a JSON-able V1 ``predictions`` value."""
    if isinstance(result, dict):
        arrays = {k: as_array(v) for k, v in result.items()}
        lengths = {a.shape[0] if a.ndim else None for a in arrays.values()}
        if len(lengths) == 1 and None not in lengths:  # TF-serving row format
            (n,) = lengths
            return [{k: a[i] for k, a in arrays.items()} for i in range(n)]
        return arrays
    if isinstance(result, (list, tuple, str, int, float, bool)) or result is None:
        return result
    return as_array(result)
