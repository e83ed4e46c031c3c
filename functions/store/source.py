"""What every model source (S3, HTTP) offers the cache: a listing with identities, and a download."""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Protocol

from .progress import Progress


@dataclass(frozen=True)
class RemoteFile:
    """One file of a model: where it goes below the model directory, its size, version tag and remote name."""

    path: PurePosixPath
    size: int
    etag: str
    remote: str


class Source(Protocol):
    """A remote model: ``uri`` names it, ``list`` says what it holds now, ``download`` fetches it."""

    uri: str

    def list(self) -> list[RemoteFile]:
        """The model's files; StoreUnavailable when unreachable, StoreError when absent or refused."""

    def download(self, files: list[RemoteFile], dest: Path, progress: Progress) -> None:
        """Write ``files`` under ``dest`` (which exists and is empty)."""


def identity_key(uri: str, files: list[RemoteFile]) -> str:
    """The cache key: a digest of the URI and every file's path, size and ETag."""
    listing = sorted((str(f.path), f.size, f.etag) for f in files)
    return hashlib.sha256(json.dumps([uri, listing]).encode()).hexdigest()
