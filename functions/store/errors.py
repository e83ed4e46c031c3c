"""Errors of the model store: a permanent failure, or an unreachable store worth retrying."""
from __future__ import annotations

from ..errors import KFuncError


class StoreError(KFuncError):
    """The model cannot be fetched as configured (no such bucket or object, access denied, unsafe key)."""


class StoreUnavailable(StoreError):
    """The store cannot be reached right now and no cached copy exists; retry with backoff."""

    status = 503


class UnsafeObjectKey(StoreError):
    """An object key would land outside the model directory (``..``, absolute path, symlink)."""
