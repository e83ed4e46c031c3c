"""S3 (or any S3-compatible store) through boto3: listing with ETags, parallel ranged downloads.

Credentials come from boto3's standard chain (env, profile, web identity, instance metadata).
Import this module only for s3:// URIs: boto3 is an optional dependency (``kfunc[s3]``).
"""
from __future__ import annotations

import posixpath
from functools import cached_property
from pathlib import Path, PurePosixPath
from typing import Any

import boto3
from boto3.s3.transfer import TransferConfig, create_transfer_manager
from botocore import exceptions as bx
from botocore.config import Config
from s3transfer.exceptions import RetriesExceededError
from s3transfer.subscribers import BaseSubscriber

from .errors import StoreError, StoreUnavailable
from .paths import relative_key, safe_join
from .progress import Progress
from .settings import StoreSettings, parse_size
from .source import RemoteFile
from .uri import S3Uri

_THROTTLED = {"SlowDown", "Throttling", "ThrottlingException", "RequestTimeout", "ServiceUnavailable", "InternalError"}


def make_client(settings: StoreSettings, credentials: dict[str, str] | None = None) -> Any:
    """An S3 client from the standard credential chain (or explicit ``credentials``: boto3's
    ``aws_access_key_id``, ``aws_secret_access_key``, ``aws_session_token``) and the ``store:`` settings."""
    config = Config(
        region_name=settings.region,
        s3={"addressing_style": settings.addressing_style},
        connect_timeout=settings.connect_timeout,
        read_timeout=settings.read_timeout,
        retries={"max_attempts": settings.max_attempts, "mode": "standard"},
        max_pool_connections=max(10, settings.max_concurrency),
    )
    return boto3.client("s3", endpoint_url=settings.effective_endpoint_url, config=config, **(credentials or {}))


def store_error(exc: Exception, uri: str) -> StoreError:
    """Map a boto3/s3transfer failure to StoreUnavailable (worth retrying) or StoreError (fix the config)."""
    if isinstance(exc, RetriesExceededError) and exc.last_exception is not None:
        exc = exc.last_exception
    if isinstance(exc, (bx.ConnectionError, bx.HTTPClientError, bx.IncompleteReadError)):
        return StoreUnavailable(f"{uri}: store unreachable: {exc}")
    if isinstance(exc, bx.NoCredentialsError):
        return StoreError(f"{uri}: no AWS credentials found; set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, "
                          "AWS_PROFILE, or a pod identity")
    if isinstance(exc, bx.ClientError):
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        code = exc.response.get("Error", {}).get("Code", "")
        if status == 412:
            return StoreUnavailable(f"{uri}: an object changed during the download; will fetch it again")
        if status >= 500 or code in _THROTTLED:
            return StoreUnavailable(f"{uri}: store answered {status} {code}; will retry")
        if status == 403:
            return StoreError(f"{uri}: access denied ({code}); check the credentials and the bucket policy")
        if status == 404:
            return StoreError(f"{uri}: not found ({code}); check the bucket name, prefix and store.endpoint-url")
    return StoreError(f"{uri}: {type(exc).__name__}: {exc}")


class S3Source:
    """The objects named by one ``s3://`` URI: an exact key, or every object below a prefix."""

    def __init__(self, location: S3Uri, settings: StoreSettings) -> None:
        self.uri = str(location)
        self._location = location
        self._settings = settings

    @cached_property
    def _client(self) -> Any:
        """The boto3 client, made when first needed (a few ms: a load from the node cache of a
        repository's model, whose files the listing gave, needs none)."""
        return make_client(self._settings)

    def list(self) -> list[RemoteFile]:
        try:
            objects = [obj for page in self._client.get_paginator("list_objects_v2").paginate(
                Bucket=self._location.bucket, Prefix=self._location.key) for obj in page.get("Contents", [])]
        except Exception as exc:
            raise store_error(exc, self.uri) from exc
        files = select_files(objects, self._location.key, self.uri)
        if not files:
            raise StoreError(f"{self.uri}: no objects found; check the bucket and prefix")
        return files

    def download(self, files: list[RemoteFile], dest: Path, progress: Progress) -> None:
        config = TransferConfig(
            multipart_threshold=parse_size(self._settings.multipart_threshold),
            multipart_chunksize=parse_size(self._settings.multipart_chunksize),
            max_concurrency=self._settings.max_concurrency,
            num_download_attempts=self._settings.max_attempts,
        )
        try:
            with create_transfer_manager(self._client, config) as manager:
                futures = []
                for file in files:
                    target = safe_join(dest, file.path)
                    target.parent.mkdir(parents=True, exist_ok=True)
                    futures.append(manager.download(self._location.bucket, file.remote, str(target),
                                                    subscribers=[_Subscriber(file, progress)]))
                for future in futures:
                    future.result()
        except StoreError:
            raise
        except Exception as exc:
            raise store_error(exc, self.uri) from exc


def select_files(objects: list[dict], key: str, uri: str) -> list[RemoteFile]:
    """The files ``key`` names among listed objects (``list_objects_v2`` entries): that exact
    object, else every object below it as a prefix; UnsafeObjectKey for a key that would leave
    the model directory."""
    exact = [o for o in objects if key and o["Key"] == key and not key.endswith("/")]
    if exact:
        return [_remote(exact[0], PurePosixPath(posixpath.basename(key)))]
    prefix = key if not key or key.endswith("/") else key + "/"
    return [_remote(o, relative_key(o["Key"], prefix, uri))
            for o in objects if o["Key"].startswith(prefix) and not o["Key"].endswith("/")]


def _remote(obj: dict, path: PurePosixPath) -> RemoteFile:
    return RemoteFile(path=path, size=int(obj["Size"]), etag=obj.get("ETag", ""), remote=obj["Key"])


class _Subscriber(BaseSubscriber):
    """Gives s3transfer the listed size and ETag (no HEAD; ranged GETs send If-Match) and feeds ``progress``."""

    def __init__(self, file: RemoteFile, progress: Progress) -> None:
        self._file = file
        self._progress = progress

    def on_queued(self, future: Any, **kwargs: Any) -> None:
        future.meta.provide_transfer_size(self._file.size)
        future.meta.provide_object_etag(self._file.etag)

    def on_progress(self, future: Any, bytes_transferred: int, **kwargs: Any) -> None:
        self._progress.update(bytes_transferred)
