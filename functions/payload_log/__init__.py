"""Payload logging: every inference request and response as a KServe-compatible CloudEvent, sent
to an http(s) receiver (a Knative Broker) or written to object storage, off the request path.

Each worker has its own ``PayloadLogger`` (``start`` after fork, ``stop`` at exit): the request
path hands it the answered request (``current().events(...)``, ``queue_events``), the worker's
sender threads deliver (``functions.payload_log.sender``). See docs/logging.md.
"""
from __future__ import annotations

import importlib.util
import logging
import os
import socket

from ..errors import ConfigError
from ..store.settings import StoreSettings
from .capture import PayloadLogger
from .config import NAMESPACE_ENV, POD_ENV, LoggerSettings
from .events import Identity
from .queue import EventQueue
from .sender import Senders, Sink

__all__ = ["PayloadLogger", "check", "current", "start", "stop"]
log = logging.getLogger("kfunc.logger")
_active: tuple[PayloadLogger, Senders] | None = None


def current() -> PayloadLogger | None:
    """This worker's logger, None when logging is off."""
    return _active[0] if _active is not None else None


def start(name: str, settings: LoggerSettings, store: StoreSettings, timeout: float) -> PayloadLogger | None:
    """Start this process's logger and its senders for function ``name``; None (and nothing
    started) without a URL. Call it in each worker, after fork; ``timeout`` bounds an
    ``on-full: block`` wait (the request timeout)."""
    global _active
    if not settings.enabled:
        return None
    pod = os.environ.get(POD_ENV) or socket.gethostname()
    namespace = os.environ.get(NAMESPACE_ENV) or "default"
    who = Identity(name, namespace, settings.component, settings.endpoint, f"/kfunc/{namespace}/{name}/{pod}")
    sink = _sink(settings, store, who, pod)
    queue = EventQueue(settings.queue.max_events, settings.queue.max_bytes_value, wake_every=sink.batch_events)
    senders = Senders(queue, sink, settings.max_attempts)
    senders.start()
    logger = PayloadLogger(settings, queue, block_timeout=timeout, prepare=sink.prepare)
    _active = (logger, senders)
    log.info("payload logging (%s) to %s in worker %d", settings.mode, _redacted(settings.sink_url(namespace)),
             os.getpid())
    return logger


def check(settings: LoggerSettings) -> None:
    """ConfigError now (in the master, before any worker forks) if the sink needs a missing package."""
    needs = []
    if settings.is_object_store:
        needs.append(("boto3", "s3"))
        if settings.format == "parquet":
            needs.append(("pyarrow", "parquet"))
    for module, extra in needs:
        if importlib.util.find_spec(module) is None:
            raise ConfigError(f"logger.url: {settings.url!r} needs {module}, which is not installed; "
                              f"pip install 'kfunc[{extra}]' (or log to an http(s) URL)")


def stop(deadline: float) -> None:
    """Deliver what is queued until ``deadline`` (``time.monotonic()``), count and log the rest."""
    global _active
    if _active is None:
        return
    _, senders = _active
    _active = None
    left = senders.stop(deadline)
    if not left:
        log.info("payload logger: queue flushed in worker %d", os.getpid())


def _sink(settings: LoggerSettings, store: StoreSettings, who: Identity, pod: str) -> Sink:
    if settings.is_object_store:
        from .s3_sink import S3Sink  # boto3: kfunc[s3]
        return S3Sink(settings.url or "", settings, who, store, pod)
    from .http_sink import HttpSink
    return HttpSink(settings.sink_url(who.namespace), settings, who)


def _redacted(url: str) -> str:
    """The URL without user:password."""
    scheme, sep, rest = url.partition("://")
    return f"{scheme}{sep}{rest.split('@', 1)[-1]}" if sep else url

