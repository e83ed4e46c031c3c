"""Which models a function serves: its one ``model.uri``, an explicit ``models:`` list, or every
sub-directory of ``model.repository`` (``<name>/`` or ``<name>/<version>/``)."""
from __future__ import annotations

import logging
import posixpath
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable

from ..config import FunctionConfig
from ..errors import ConfigError
from ..store import StoreSettings
from ..store.errors import StoreError
from ..store.source import RemoteFile
from ..store.uri import HttpUri, LocalUri, S3Uri, parse_uri

log = logging.getLogger("kfunc")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


@dataclass(frozen=True)
class ModelSource:
    """One servable model: the name (and version) requests use, and where its files are;
    ``files``, for a model of an S3 repository, its files as the repository's latest listing saw
    them (None: listed when fetched)."""

    name: str
    version: str | None
    uri: str | None
    files: tuple[RemoteFile, ...] | None = field(default=None, compare=False, repr=False)

    @property
    def key(self) -> str:
        """``name`` or ``name/version``: the model's identity in the ledger and the metrics."""
        return f"{self.name}/{self.version}" if self.version else self.name


def model_sources(config: FunctionConfig, directory: Path, store: StoreSettings) -> list[ModelSource]:
    """The models ``config`` names, relative paths taken from ``directory``; ConfigError names the field."""
    repository = config.model_repository
    if config.models is not None and repository:
        raise ConfigError("models: and model.repository both name models; keep one of them")
    if config.models is not None:
        sources = [ModelSource(m.name, m.version, _resolve(m.uri, directory) if m.uri else None)
                   for m in config.models]
        where = "models"
    elif repository:
        sources = list_repository(_resolve(repository, directory), store)
        where = "model.repository"
    else:
        return [ModelSource(config.name, config.version, _resolve(config.model_uri, directory)
                            if config.model_uri else None)]
    if not sources:
        raise ConfigError(f"{where}: names no model; add a model (a sub-directory of the repository, "
                          "or an entry of models:)")
    keys = [s.key for s in sources]
    twice = sorted({k for k in keys if keys.count(k) > 1})
    if twice:
        raise ConfigError(f"{where}: model {twice[0]!r} is listed twice; give each model its own name or version")
    unknown = sorted(set(config.model.pinned) - {s.name for s in sources})
    if unknown:
        raise ConfigError(f"model.pinned: {unknown[0]!r} is not one of the models served "
                          f"({', '.join(sorted({s.name for s in sources}))})")
    return sources


def repository_lister(config: FunctionConfig, directory: Path,
                      store: StoreSettings) -> "Callable[[], list[ModelSource]] | None":
    """Lists ``model.repository`` again (skipping, with a warning, a directory whose name is not a
    model name); None for a function without a repository."""
    repository = config.model_repository
    if not repository:
        return None
    uri = _resolve(repository, directory)
    return lambda: list_repository(uri, store, strict=False)


def _resolve(uri: str, directory: Path) -> str:
    """Relative paths are relative to the function directory."""
    if "://" in uri or Path(uri).expanduser().is_absolute():
        return uri
    return str(directory / uri)


def list_repository(uri: str, store: StoreSettings, strict: bool = True) -> list[ModelSource]:
    """The models under a repository URI, sorted by name then version; ``strict``: a directory
    whose name is no model name is an error rather than skipped."""
    location = parse_uri(uri)
    if isinstance(location, HttpUri):
        raise ConfigError(f"model.repository: {uri!r} is a single file; a repository is a directory "
                          "(s3://bucket/models/, file:///path/models/ or a path)")
    if isinstance(location, LocalUri):
        if not location.path.is_dir():
            raise ConfigError(f"model.repository: {location.path} is not a directory")
        relative = [p.relative_to(location.path).as_posix() for p in location.path.rglob("*") if p.is_file()]
        base = location.path.resolve().as_uri() + "/"
        return _models(relative, base, uri, strict)
    prefix = _prefix(location.key)
    objects = _s3_objects(location, prefix, store)
    base = f"s3://{location.bucket}/{prefix}"
    relative = [obj["Key"][len(prefix):] for obj in objects if not obj["Key"].endswith("/")]
    sources = _models(relative, base, uri, strict)
    return [_with_files(source, objects, prefix + (source.uri or "")[len(base):]) for source in sources]


def _prefix(key: str) -> str:
    return key if not key or key.endswith("/") else key + "/"


def _s3_objects(location: S3Uri, prefix: str, store: StoreSettings) -> list[dict]:
    """Every object below ``prefix`` in the repository's bucket (``list_objects_v2`` entries: key,
    size, ETag)."""
    from ..store.fetch import open_source  # boto3 only for s3:// repositories
    from ..store.s3 import make_client, store_error

    open_source(location, store)  # the clear error when boto3 is missing
    try:
        pages = make_client(store).get_paginator("list_objects_v2").paginate(Bucket=location.bucket, Prefix=prefix)
        return [obj for page in pages for obj in page.get("Contents", [])]
    except Exception as exc:
        raise store_error(exc, str(location)) from exc


def _with_files(source: ModelSource, objects: list[dict], key: str) -> ModelSource:
    """``source`` with its files from the repository's listing (``key``: its prefix in the bucket),
    so a load from the node cache does not list it again; one with an unsafe key is left to be
    listed (and refused, with the reason) when it is fetched."""
    from ..store.s3 import select_files

    try:
        return replace(source, files=tuple(select_files(objects, key, source.uri or "")))
    except StoreError:
        return source


def _models(files: list[str], base: str, uri: str, strict: bool) -> list[ModelSource]:
    """Group file paths (relative to the repository) into models: ``<name>/`` holding files directly
    is one model; ``<name>/<version>/...`` with no file directly under ``<name>/`` is one per version."""
    by_name: dict[str, list[list[str]]] = {}
    for path in files:
        parts = path.split("/")
        if len(parts) < 2 or parts[0].startswith("."):
            continue  # a file at the top (README, an index) is not a model
        by_name.setdefault(parts[0], []).append(parts[1:])
    sources = []
    for name, paths in sorted(by_name.items()):
        if not _NAME.match(name):
            problem = (f"model.repository: {uri}: {name!r} is not a valid model name "
                       "(letters, digits, '.', '_' or '-'); rename that directory")
            if strict:
                raise ConfigError(problem)
            log.warning("%s; it is not served", problem)
            continue
        if all(len(p) > 1 for p in paths):
            for version in sorted({p[0] for p in paths}, key=_version_order):
                sources.append(ModelSource(name, version, posixpath.join(base, name, version) + "/"))
        else:
            sources.append(ModelSource(name, None, posixpath.join(base, name) + "/"))
    return sources


def source_order(source: ModelSource) -> tuple[str, tuple[int, int, str]]:
    """Sorts models by name, then versions numerically (``2`` before ``10``), the latest last."""
    return source.name, _version_order(source.version or "")


def _version_order(version: str) -> tuple[int, int, str]:
    return (0, int(version), "") if version.isdigit() else (1, 0, version)
