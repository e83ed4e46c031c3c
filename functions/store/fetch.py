"""``fetch_model``: the one entry point the runtime calls to turn a model URI into a local directory."""
from __future__ import annotations

from pathlib import Path

from ..errors import ConfigError
from .cache import ModelCache
from .errors import StoreError
from .settings import CacheSettings, StoreSettings
from .source import RemoteFile, Source
from .uri import HttpUri, LocalUri, S3Uri, parse_uri


def fetch_model(uri: str, settings: StoreSettings, cache: CacheSettings, *, cache_root: Path | None = None,
                files: list[RemoteFile] | None = None) -> Path:
    """Local directory holding the model (for a single-file URI, a directory containing it).

    Local paths are used in place, never copied: a directory is returned as is, a file as the
    directory that holds it. Remote models go through the cache (see docs/model-store.md) at
    ``cache_root`` if given (a CLI flag), else ``KFUNC_CACHE_DIR``, else ``cache.dir``. ``files``:
    the remote model's listing when the caller has it (a repository's), so it is not listed again.
    """
    location = parse_uri(uri)
    if isinstance(location, LocalUri):
        return local_model_dir(location.path)
    return ModelCache(cache, cache_root or cache.root).fetch(open_source(location, settings), files)


def local_model_dir(path: Path) -> Path:
    """The directory to hand over for a local model path; a missing path is a clear error."""
    if path.is_dir():
        return path.resolve()
    if path.is_file():
        return path.resolve().parent
    raise StoreError(f"{path}: no such file or directory; check model.uri (or KFUNC_MODEL_URI)")


def open_source(location: S3Uri | HttpUri, settings: StoreSettings) -> Source:
    """The remote source for a parsed URI; s3:// needs the optional boto3 dependency."""
    if isinstance(location, HttpUri):
        from .https import HttpSource  # urllib3, only when needed

        return HttpSource(location, settings)
    try:
        from .s3 import S3Source
    except ImportError:
        raise ConfigError("s3:// model URIs need boto3; install it with: pip install 'kfunc[s3]'") from None
    return S3Source(location, settings)
