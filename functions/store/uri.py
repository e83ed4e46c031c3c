"""Model storage URIs: ``s3://bucket/prefix``, ``file:///path`` or a plain path, ``https://`` (one file)."""
from __future__ import annotations

import posixpath
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

from ..errors import ConfigError

_WHERE = "model.uri (or KFUNC_MODEL_URI)"
_HINT = "use s3://bucket/prefix/, file:///path, a plain path, or https://host/file"


@dataclass(frozen=True)
class LocalUri:
    """A directory or file on this machine, used in place."""

    path: Path


@dataclass(frozen=True)
class S3Uri:
    """An object (``key`` names it exactly) or a prefix of objects (``key`` ends in ``/`` or names none)."""

    bucket: str
    key: str

    def __str__(self) -> str:
        return f"s3://{self.bucket}/{self.key}"


@dataclass(frozen=True)
class HttpUri:
    """A single file served over HTTP(S); ``filename`` is the last path segment."""

    url: str
    filename: str

    def __str__(self) -> str:
        return self.url


ModelUri = LocalUri | S3Uri | HttpUri


def parse_uri(uri: str) -> ModelUri:
    """Classify ``uri``; raise ConfigError (naming the URI and the accepted forms) when malformed."""
    text = uri.strip()
    if not text:
        raise ConfigError(f"{_WHERE}: empty; {_HINT}")
    parts = urlsplit(text)
    scheme = parts.scheme.lower()
    if scheme in ("", "file"):
        if parts.netloc not in ("", "localhost"):
            raise ConfigError(f"{_WHERE}: {uri!r} names host {parts.netloc!r}; write file:///absolute/path")
        return LocalUri(Path(unquote(parts.path) if scheme == "file" else text).expanduser())
    if scheme == "s3":
        if not parts.netloc:
            raise ConfigError(f"{_WHERE}: {uri!r} has no bucket; {_HINT}")
        return S3Uri(parts.netloc, parts.path.lstrip("/"))
    if scheme in ("http", "https"):
        filename = posixpath.basename(unquote(parts.path))
        if filename in ("", ".", ".."):
            raise ConfigError(f"{_WHERE}: {uri!r} does not name a file; an http(s) URI must end in a file name")
        return HttpUri(text, filename)
    raise ConfigError(f"{_WHERE}: scheme {parts.scheme!r} is not supported; {_HINT}")
