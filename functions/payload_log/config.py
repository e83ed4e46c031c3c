"""The ``logger:`` section of ``kfunc.yaml``: where request/response payloads go and how.

Parsed with :func:`functions.schema.parse` (every error names the ``logger.*`` field);
``KFUNC_LOGGER_URL`` and ``KFUNC_LOGGER_MODE`` override the file. Logging is off without a URL.
``url`` is ``http(s)://...`` (any CloudEvents receiver), ``broker:NAME`` (the Knative Broker
``NAME`` of the pod's namespace) or ``s3://bucket/prefix`` (batched objects).
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from typing import Literal

from ..errors import ConfigError
from ..schema import check_size, parse, parse_size
from ..store.settings import check_positive

URL_ENV = "KFUNC_LOGGER_URL"
MODE_ENV = "KFUNC_LOGGER_MODE"
NAMESPACE_ENV = "KFUNC_NAMESPACE"  # set by kfunc deploy from the downward API
POD_ENV = "KFUNC_POD_NAME"
BROKER_INGRESS = "http://broker-ingress.knative-eventing.svc.cluster.local"
MODES = ("all", "request", "response")
Mode = Literal["all", "request", "response"]


def _fraction(value: float) -> str | None:
    return None if 0 <= value <= 1 else "must be between 0 and 1 (the share of requests logged)"


def _check_url(value: str) -> str | None:
    if value.startswith(("http://", "https://", "s3://")):
        return None
    if value.startswith("broker:") and value[len("broker:"):]:
        return None
    return f"{value!r} is not a sink; use http(s)://HOST/PATH, broker:NAME or s3://BUCKET/PREFIX"


@dataclass(frozen=True)
class BatchLimits:
    """``logger.batch``: when a batch goes out (object storage: one object per batch)."""

    max_events: int = field(default=1000, metadata={"yaml": "max-events", "check": check_positive})
    max_bytes: str = field(default="8Mi", metadata={"yaml": "max-bytes", "check": check_size})
    max_delay: float = field(default=5.0, metadata={"yaml": "max-delay", "check": check_positive})

    @property
    def max_bytes_value(self) -> int:
        return parse_size(self.max_bytes)


@dataclass(frozen=True)
class QueueLimits:
    """``logger.queue``: the most events (and bytes of payload) a worker holds unsent."""

    max_events: int = field(default=10000, metadata={"yaml": "max-events", "check": check_positive})
    max_bytes: str = field(default="64Mi", metadata={"yaml": "max-bytes", "check": check_size})

    @property
    def max_bytes_value(self) -> int:
        return parse_size(self.max_bytes)


@dataclass(frozen=True)
class EventingWiring:
    """``logger.eventing``: Knative Eventing objects ``kfunc deploy`` renders for a ``broker:NAME`` sink."""

    create_broker: bool = field(default=False, metadata={"yaml": "create-broker"})
    subscriber: str | None = None  # a Knative Service name or an http(s) URI: a Trigger sends it the events


@dataclass(frozen=True)
class LoggerSettings:
    """Payload logging: sink, what is logged, batching, the bounded queue, retries."""

    url: str | None = field(default=None, metadata={"check": _check_url})
    mode: Mode = "all"
    metadata_headers: list[str] = field(default_factory=list, metadata={"yaml": "metadata-headers"})
    sample_rate: float = field(default=1.0, metadata={"yaml": "sample-rate", "check": _fraction})
    format: Literal["json", "parquet"] = "json"
    encoding: Literal["binary", "batch"] = "binary"  # http(s): an event a POST, or batches of logger.batch
    compression: Literal["gzip", "none"] = "gzip"
    component: Literal["predictor", "transformer", "explainer"] = "predictor"
    endpoint: str = "default"
    batch: BatchLimits = field(default_factory=BatchLimits)
    queue: QueueLimits = field(default_factory=QueueLimits)
    on_full: Literal["drop", "block"] = field(default="drop", metadata={"yaml": "on-full"})
    max_in_flight: int = field(default=4, metadata={"yaml": "max-in-flight", "check": check_positive})
    max_attempts: int = field(default=5, metadata={"yaml": "max-attempts", "check": check_positive})
    timeout: float = field(default=5.0, metadata={"check": check_positive})
    secret: str | None = None  # a Secret whose keys the container gets prefixed KFUNC_LOGGER_ (kfunc deploy)
    eventing: EventingWiring | None = None

    @property
    def max_event_bytes(self) -> int:
        """The most of a streamed answer a response event keeps: what one batch and the queue can hold."""
        return min(self.batch.max_bytes_value, self.queue.max_bytes_value)

    @property
    def broker(self) -> str | None:
        """NAME of a ``broker:NAME`` URL, else None."""
        return self.url[len("broker:"):] if self.url and self.url.startswith("broker:") else None

    @property
    def enabled(self) -> bool:
        return bool(self.url)

    @property
    def is_object_store(self) -> bool:
        return bool(self.url) and self.url.startswith("s3://")

    def sink_url(self, namespace: str | None = None) -> str:
        """The URL events go to: ``broker:NAME`` becomes the broker ingress URL of ``namespace``
        (default ``KFUNC_NAMESPACE``, else ``default``)."""
        assert self.url is not None
        if self.broker is None:
            return self.url
        return broker_url(self.broker, namespace or os.environ.get(NAMESPACE_ENV) or "default")


def broker_url(name: str, namespace: str) -> str:
    """The ingress address of Knative's multi-tenant Broker ``name`` in ``namespace``."""
    return f"{BROKER_INGRESS}/{namespace}/{name}"


def logger_settings(raw: object, environ: dict[str, str] | None = None) -> LoggerSettings:
    """``logger:`` of a FunctionConfig with the environment overrides applied."""
    env = os.environ if environ is None else environ
    settings = parse(LoggerSettings, raw, "logger")
    if settings.eventing is not None and settings.broker is None:
        raise ConfigError("logger.eventing: needs logger.url: broker:NAME (the Broker the events go to); "
                          "set it, or remove logger.eventing")
    url = env.get(URL_ENV, "").strip()
    if url:
        problem = _check_url(url)
        if problem:
            raise ConfigError(f"{URL_ENV}={url!r}: {problem}")
        settings = replace(settings, url=url)
    mode = env.get(MODE_ENV, "").strip().lower()
    if mode:
        if mode not in MODES:
            raise ConfigError(f"{MODE_ENV}={mode!r}: use one of {', '.join(MODES)}")
        settings = replace(settings, mode=mode)  # type: ignore[arg-type]
    if settings.encoding == "batch" and (settings.broker is not None or settings.is_object_store):
        raise ConfigError("logger.encoding: batch is for http(s) receivers that take CloudEvents batches; a Knative "
                          "Broker takes one event a request and s3:// batches by itself: remove it or use binary")
    return settings
