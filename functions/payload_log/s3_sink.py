"""The s3:// sink: batches of events as objects, ``PREFIX/<date>/<hour>/<function>-<pod>-<seq>.jsonl.gz``.

Objects hold one CloudEvent a line in the CloudEvents JSON format (``logger.format: json``,
gzip unless ``logger.compression: none``) or a Parquet table (``format: parquet``, pyarrow,
``pip install 'kfunc[parquet]'``). The client is the model store's: the same ``store:``
endpoint and retry settings and the standard credential chain, unless the logger Secret gives
``KFUNC_LOGGER_AWS_ACCESS_KEY_ID`` / ``..._SECRET_ACCESS_KEY`` (/ ``..._SESSION_TOKEN``).
``seq`` is the worker's pid and a counter, so the workers of a pod never write the same key.
"""
from __future__ import annotations

import gzip
import itertools
import os
from datetime import datetime, timezone

from ..store.s3 import make_client, store_error
from ..store.errors import StoreUnavailable
from ..store.settings import StoreSettings
from ..store.uri import parse_uri, S3Uri
from .config import LoggerSettings
from .errors import SinkRejected, SinkUnavailable
from .events import Identity, LogEvent, Queued, cloud_event, json_lines, json_record

CREDENTIAL_ENV = {"aws_access_key_id": "KFUNC_LOGGER_AWS_ACCESS_KEY_ID",
                  "aws_secret_access_key": "KFUNC_LOGGER_AWS_SECRET_ACCESS_KEY",
                  "aws_session_token": "KFUNC_LOGGER_AWS_SESSION_TOKEN"}


class S3Sink:
    """Writes each batch the sender hands it as one object."""

    senders = 1

    def __init__(self, url: str, settings: LoggerSettings, who: Identity, store: StoreSettings, pod: str) -> None:
        location = parse_uri(url)
        assert isinstance(location, S3Uri)
        self.bucket = location.bucket
        self.prefix = location.key.strip("/")
        self.who = who
        self.pod = pod
        self.format = settings.format
        self.gzip = settings.compression == "gzip" and settings.format == "json"
        self.batch_events = settings.batch.max_events
        self.batch_bytes = settings.batch.max_bytes_value
        self.linger = settings.batch.max_delay
        self._counter = itertools.count(1)
        credentials = {key: os.environ[env] for key, env in CREDENTIAL_ENV.items() if os.environ.get(env)}
        self._client = make_client(store, credentials)

    def prepare(self, event: LogEvent) -> Queued:
        """For JSON lines the event's record, made on the request path; for Parquet the event."""
        return event if self.format == "parquet" else json_record(event, self.who)

    def deliver(self, batch: list[Queued]) -> None:
        body, content_type = self._encode(batch)
        key = self.key(batch[0].time, next(self._counter))
        extra = {"ContentEncoding": "gzip"} if self.gzip else {}
        try:
            self._client.put_object(Bucket=self.bucket, Key=key, Body=body, ContentType=content_type, **extra)
        except Exception as exc:
            error = store_error(exc, f"s3://{self.bucket}/{key}")
            if isinstance(error, StoreUnavailable):
                raise SinkUnavailable(str(error)) from None
            raise SinkRejected(str(error)) from None

    def key(self, when: float, number: int) -> str:
        stamp = datetime.fromtimestamp(when, timezone.utc)
        suffix = "parquet" if self.format == "parquet" else "jsonl.gz" if self.gzip else "jsonl"
        name = f"{self.who.service}-{self.pod}-{os.getpid()}-{number:06d}.{suffix}"
        parts = [self.prefix] if self.prefix else []
        return "/".join([*parts, stamp.strftime("%Y-%m-%d"), stamp.strftime("%H"), name])

    def _encode(self, batch: list[Queued]) -> tuple[bytes, str]:
        if self.format == "parquet":
            from .parquet import encode
            return encode([cloud_event(event, self.who) for event in batch]), "application/vnd.apache.parquet"
        lines = json_lines(batch)
        return (gzip.compress(lines, compresslevel=5, mtime=0) if self.gzip else lines), "application/x-ndjson"

    def close(self) -> None:
        self._client.close()
