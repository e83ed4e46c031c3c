"""A cache entry's manifest: every file's size and SHA-256 recorded at download, checked on reuse.

Entry layout: ``<entry>/manifest.json`` and ``<entry>/model/`` (the directory handed to the
handler). The manifest's mtime is the entry's last use, for LRU eviction.
"""
from __future__ import annotations

import hashlib
import json
import os
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Literal

from .errors import StoreError, UnsafeObjectKey
from .paths import relative_key, safe_join
from .source import RemoteFile

MANIFEST = "manifest.json"
MODEL_DIR = "model"
_HASH_BLOCK = 8 << 20


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(_HASH_BLOCK):
            digest.update(block)
    return digest.hexdigest()


def fsync_tree(root: Path) -> None:
    """Flush every file and directory under ``root`` (and ``root`` itself) to disk."""
    for directory, _, names in os.walk(root):
        for name in names:
            fd = os.open(os.path.join(directory, name), os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        fsync_dir(Path(directory))


def fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_manifest(entry: Path, uri: str, files: list[RemoteFile]) -> None:
    """Check the downloaded files against the listing and record their sizes and checksums.

    Files are hashed in parallel (hashlib releases the GIL), about 1 s per GB per core.
    """
    model = entry / MODEL_DIR
    paths = [safe_join(model, file.path) for file in files]
    for file, path in zip(files, paths, strict=True):
        if not path.is_file() or path.is_symlink():
            raise StoreError(f"{uri}: {file.path} was not written by the download")
        size = path.stat().st_size
        if size != file.size:
            raise StoreError(f"{uri}: {file.path} is {size} bytes, the store listed {file.size}; "
                             "the object changed during the download, try again")
    with ThreadPoolExecutor(max_workers=min(len(paths), os.cpu_count() or 1)) as pool:
        digests = list(pool.map(sha256_file, paths))
    records = {str(file.path): {"size": file.size, "sha256": digest, "etag": file.etag}
               for file, digest in zip(files, digests, strict=True)}
    manifest = {"uri": uri, "created": time.time(), "files": records}
    (entry / MANIFEST).write_text(json.dumps(manifest, indent=1))


def check_entry(entry: Path, verify: Literal["size", "sha256"]) -> str | None:
    """Why the entry cannot be reused (missing, truncated, corrupted, symlinked), or None if sound."""
    try:
        files = json.loads((entry / MANIFEST).read_text())["files"]
        records = {name: (int(rec["size"]), str(rec["sha256"])) for name, rec in files.items()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        return f"manifest unreadable ({exc!r})"
    model = entry / MODEL_DIR
    if any(p.is_symlink() for p in [entry, model, *model.rglob("*")]):
        return "contains a symlink"
    for name, (expected_size, expected_sha256) in records.items():
        try:
            path = safe_join(model, relative_key(name, "", str(entry)))
        except UnsafeObjectKey as exc:
            return str(exc)
        if not path.is_file():
            return f"{name} is missing"
        size = path.stat().st_size
        if size != expected_size:
            return f"{name} is {size} bytes, expected {expected_size}"
        if verify == "sha256" and sha256_file(path) != expected_sha256:
            return f"{name} fails its SHA-256 check"
    return None


def tree_size(root: Path) -> int:
    """Bytes of the regular files under ``root`` (symlinks not followed)."""
    return sum(p.lstat().st_size for p in root.rglob("*") if p.is_file() and not p.is_symlink())
