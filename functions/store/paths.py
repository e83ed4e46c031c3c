"""Safe placement of store objects under a local directory: no ``..``, no absolute paths, no escaping symlinks."""
from __future__ import annotations

from pathlib import Path, PurePosixPath

from .errors import UnsafeObjectKey


def relative_key(key: str, prefix: str, source: str) -> PurePosixPath:
    """The path of object ``key`` below ``prefix``; refuse keys that would leave the model directory."""
    rest = key[len(prefix):]
    parts = rest.split("/")
    if not rest or rest.startswith("/") or "\\" in rest or any(p in ("", ".", "..") for p in parts):
        raise UnsafeObjectKey(
            f"{source}: object key {key!r} is unsafe (empty, absolute, '.' or '..' segments); "
            "rename the object in the store"
        )
    return PurePosixPath(rest)


def safe_join(root: Path, relative: PurePosixPath) -> Path:
    """``root / relative``, refusing any result that resolves (through symlinks too) outside ``root``."""
    target = root / relative
    if not target.resolve().is_relative_to(root.resolve()):
        raise UnsafeObjectKey(f"{relative}: resolves outside {root} (symlink or traversal); refusing to write it")
    return target
