"""Fast JSON for request and response bodies (orjson, numpy-aware), with 400s for bad input."""
from __future__ import annotations

import base64
from typing import Any

import numpy as np
import orjson

from ..errors import InvalidInput

_OPTIONS = orjson.OPT_SERIALIZE_NUMPY


def loads(body: bytes | str) -> Any:
    """Parse a JSON body; malformed, truncated or over-deep (>1024 levels) JSON is InvalidInput."""
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise InvalidInput(f"request body is not valid JSON: {exc}") from None


def redump(value: Any) -> bytes:
    """Decoded request JSON back to bytes, for a codec that reads bytes; InvalidInput if it
    cannot be written (orjson writes at most 254 levels of nesting but reads 1024)."""
    try:
        return orjson.dumps(value)
    except orjson.JSONEncodeError as exc:
        raise InvalidInput(f"request data is nested too deeply to read as an inference request ({exc})") from None


def dumps(value: Any) -> bytes:
    """Serialise a response value; numpy arrays and scalars, bytes and torch tensors included."""
    return orjson.dumps(value, default=_default, option=_OPTIONS)


def _default(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        # orjson serialises native numeric arrays itself; this path is float16, object and non-contiguous.
        return value.tolist() if value.dtype != np.float16 else value.astype(np.float32).tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (bytes, bytearray)):
        try:
            return bytes(value).decode("utf-8")
        except UnicodeDecodeError:
            return {"b64": base64.b64encode(value).decode("ascii")}
    if hasattr(value, "detach") and hasattr(value, "numpy"):  # a torch tensor, without importing torch
        return value.detach().cpu().numpy()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")
