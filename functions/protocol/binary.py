"""The binary tensor data extension (Triton/KServe): raw tensor bytes after the JSON header.

A message is ``<JSON header><tensor bytes>...``; the ``Inference-Header-Content-Length``
header gives the JSON length and each binary tensor's ``parameters.binary_data_size`` its byte
count, in tensor order. Tensor bytes are little-endian, row-major, unpadded; BOOL is one byte
per element; a BYTES element is a 4-byte little-endian length followed by its bytes.
"""
from __future__ import annotations

import struct
from typing import Any

import numpy as np

from ..datatypes import to_numpy_dtype
from ..errors import InvalidInput, KFuncError
from .tensor_data import element_count

HEADER_LENGTH = "Inference-Header-Content-Length"

_LENGTH_PREFIX = struct.Struct("<I")


class BinaryReader:
    """Hands out the tensor bytes that follow the JSON header, one tensor at a time, in order."""

    def __init__(self, body: bytes, header_length: int | None) -> None:
        if header_length is not None and not 0 <= header_length <= len(body):
            raise InvalidInput(
                f"{HEADER_LENGTH} is {header_length} but the body is {len(body)} bytes long"
            )
        view = memoryview(body)
        self.header_length = header_length
        self.header = view if header_length is None else view[:header_length]
        self._tail = view[len(self.header):]
        self._offset = 0

    def take(self, size: Any, where: str) -> memoryview:
        """The next ``size`` bytes, for the tensor ``where`` whose ``binary_data_size`` is ``size``."""
        if type(size) is not int or size < 0:
            raise InvalidInput(f"{where}: parameters.binary_data_size must be a non-negative integer, got {size!r}")
        if self.header_length is None:
            raise InvalidInput(
                f"{where} has parameters.binary_data_size but there is no {HEADER_LENGTH} header "
                "giving the length of the JSON part of the body"
            )
        left = len(self._tail) - self._offset
        if size > left:
            raise InvalidInput(
                f"{where}: binary_data_size {size} runs past the end of the body "
                f"({left} bytes are left after the JSON header and the tensors before it)"
            )
        chunk = self._tail[self._offset:self._offset + size]
        self._offset += size
        return chunk

    def finish(self) -> None:
        """Raise InvalidInput unless every byte after the JSON header belongs to a tensor."""
        if self._offset != len(self._tail):
            raise InvalidInput(
                f"{len(self._tail)} bytes follow the JSON header but the tensors' binary_data_size "
                f"values add up to {self._offset}; they must match exactly"
            )


def array_from_bytes(raw: memoryview, datatype: str, shape: list[int], where: str) -> np.ndarray:
    """One tensor's binary data as a writable array of ``shape``; InvalidInput if sizes disagree."""
    count = element_count(shape)
    if datatype == "BYTES":
        elements = _split_elements(raw, count, where)  # checks count against the size first
        array = np.empty(count, dtype=object)
        array[:] = elements
        return array.reshape(shape)
    dtype = to_numpy_dtype(datatype)
    expected = count * dtype.itemsize
    if len(raw) != expected:
        raise InvalidInput(
            f"{where}: binary_data_size is {len(raw)} bytes but shape {shape} of {datatype} "
            f"needs {expected} ({count} elements of {dtype.itemsize} bytes)"
        )
    if datatype == "BOOL":
        return (np.frombuffer(raw, dtype=np.uint8) != 0).reshape(shape)
    return np.frombuffer(raw, dtype=dtype).reshape(shape).copy()


def _split_elements(raw: memoryview, count: int, where: str) -> list[bytes]:
    """The ``count`` length-prefixed elements of a BYTES tensor, checked against ``raw``'s length."""
    size = len(raw)
    if count * _LENGTH_PREFIX.size > size:
        raise InvalidInput(
            f"{where}: {count} BYTES elements need at least {count * _LENGTH_PREFIX.size} bytes "
            f"of length prefixes but binary_data_size is {size}"
        )
    elements = []
    offset = 0
    for index in range(count):
        if offset + _LENGTH_PREFIX.size > size:
            raise InvalidInput(f"{where}: BYTES data ends before element {index} of {count}")
        (length,) = _LENGTH_PREFIX.unpack_from(raw, offset)
        offset += _LENGTH_PREFIX.size
        if offset + length > size:
            raise InvalidInput(
                f"{where}: BYTES element {index} claims {length} bytes but only {size - offset} are left"
            )
        elements.append(bytes(raw[offset:offset + length]))
        offset += length
    if offset != size:
        raise InvalidInput(f"{where}: {size - offset} bytes are left over after the last of {count} BYTES elements")
    return elements


def array_to_bytes(array: np.ndarray, datatype: str, where: str) -> bytes:
    """An array (already of ``datatype``'s dtype, or str/bytes for BYTES) as binary tensor data."""
    if datatype != "BYTES":
        return np.ascontiguousarray(array).tobytes()
    parts = []
    for element in array.reshape(-1).tolist():
        if isinstance(element, str):
            element = element.encode("utf-8")
        elif not isinstance(element, bytes):
            raise KFuncError(f"{where}: BYTES elements must be str or bytes, got {type(element).__name__}")
        parts += (_LENGTH_PREFIX.pack(len(element)), element)
    return b"".join(parts)
