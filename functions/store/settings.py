"""The ``store:`` and ``cache:`` sections of ``kfunc.yaml``.

Parse them with :func:`settings_from_config` (``functions.schema.parse`` on each section). Byte
sizes are integers or Kubernetes-style quantities (``512Mi``, ``20Gi``, ``1G``).
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from ..schema import check_size, parse, parse_size

__all__ = ["CacheSettings", "StoreSettings", "check_positive", "parse_size", "settings_from_config"]


def check_positive(value: float) -> str | None:
    """A ``check`` for numbers that must be greater than 0."""
    return None if value > 0 else "must be greater than 0"


@dataclass(frozen=True)
class StoreSettings:
    """How to reach the model store (S3 or any S3-compatible server, or HTTP(S))."""

    endpoint_url: str | None = field(default=None, metadata={"yaml": "endpoint-url"})
    region: str | None = None
    addressing_style: Literal["auto", "path", "virtual"] = field(default="auto", metadata={"yaml": "addressing-style"})
    max_concurrency: int = field(default=8, metadata={"yaml": "max-concurrency", "check": check_positive})
    multipart_threshold: str = field(default="64Mi", metadata={"yaml": "multipart-threshold", "check": check_size})
    multipart_chunksize: str = field(default="16Mi", metadata={"yaml": "multipart-chunksize", "check": check_size})
    connect_timeout: float = field(default=5.0, metadata={"yaml": "connect-timeout", "check": check_positive})
    read_timeout: float = field(default=60.0, metadata={"yaml": "read-timeout", "check": check_positive})
    max_attempts: int = field(default=3, metadata={"yaml": "max-attempts", "check": check_positive})

    @property
    def effective_endpoint_url(self) -> str | None:
        """``AWS_ENDPOINT_URL_S3`` / ``AWS_ENDPOINT_URL`` override the file (boto3 reads them itself)."""
        if os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL"):
            return None
        return self.endpoint_url


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/kfunc/models``, else ``~/.cache/kfunc/models``."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "kfunc" / "models"


@dataclass(frozen=True)
class CacheSettings:
    """Where fetched models are kept, how big the cache may grow, how hard reuse is checked."""

    dir: str | None = None
    max_size: str | None = field(default=None, metadata={"yaml": "max-size", "check": check_size})
    verify: Literal["size", "sha256"] = "size"

    @property
    def root(self) -> Path:
        """The cache directory: ``KFUNC_CACHE_DIR``, else ``dir``, else :func:`default_cache_dir`."""
        chosen = os.environ.get("KFUNC_CACHE_DIR") or self.dir
        return Path(chosen).expanduser() if chosen else default_cache_dir()

    @property
    def max_size_bytes(self) -> int | None:
        return parse_size(self.max_size) if self.max_size else None


def settings_from_config(store: object, cache: object) -> tuple[StoreSettings, CacheSettings]:
    """Parse the raw ``store:`` and ``cache:`` sections of a FunctionConfig (None means defaults)."""
    return parse(StoreSettings, store, "store"), parse(CacheSettings, cache, "cache")
