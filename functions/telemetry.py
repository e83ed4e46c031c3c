"""OpenTelemetry tracing: a provider per worker process, exporter chosen by ``OTEL_*`` env vars.

``OTEL_TRACES_EXPORTER=console`` prints spans (development); ``otlp`` (or any
``OTEL_EXPORTER_OTLP_*ENDPOINT``) sends them over OTLP/HTTP. Unset or ``none``: no SDK is
installed and no span is recorded (that costs tens of microseconds a request), but a request's
W3C ``traceparent`` still reaches a remote predictor: the API's non-recording spans carry it.
"""
from __future__ import annotations

import logging
import os
from contextlib import contextmanager
from typing import Iterator, Mapping, MutableMapping

from opentelemetry import context, propagate, trace

log = logging.getLogger("kfunc")
TRACEPARENT = "traceparent"  # the W3C trace-context header

_recording = False


def configure_tracing(service_name: str) -> None:
    """Install this process's SDK tracer provider if an exporter is configured; call it after
    fork (exporters own threads)."""
    global _recording
    exporter = _exporter_name()
    if _recording or exporter == "none":
        return
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SimpleSpanProcessor

    provider = TracerProvider(resource=Resource.create({"service.name": os.environ.get("OTEL_SERVICE_NAME", service_name)}))
    if exporter == "console":
        provider.add_span_processor(SimpleSpanProcessor(ConsoleSpanExporter()))
    elif exporter == "otlp":
        try:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        except ImportError:
            log.warning("OTEL_TRACES_EXPORTER=otlp but the exporter is not installed: pip install 'kfunc[otlp]'")
        else:
            provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    else:
        log.warning("OTEL_TRACES_EXPORTER=%s is not supported; use console, otlp or none", exporter)
        return
    trace.set_tracer_provider(provider)
    _recording = True


def recording() -> bool:
    """Whether spans are recorded in this process (an exporter is configured)."""
    return _recording


def _exporter_name() -> str:
    name = os.environ.get("OTEL_TRACES_EXPORTER", "").strip().lower()
    if not name and any(os.environ.get(v) for v in ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")):
        return "otlp"
    return name or "none"


def extract(headers: Mapping[str, str]) -> context.Context:
    """The trace context a request carries in its W3C ``traceparent``/``tracestate`` headers."""
    return propagate.extract(headers)


def inject(headers: MutableMapping[str, str]) -> None:
    """Write the current span's ``traceparent`` into outgoing headers."""
    propagate.inject(headers)


def current_traceparent() -> str | None:
    """The current span's W3C ``traceparent`` (None without a valid span)."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier.get(TRACEPARENT)


@contextmanager
def propagated(headers: Mapping[str, str]) -> Iterator[None]:
    """Make a request's incoming trace context current for the block, without recording a span."""
    token = context.attach(extract(headers))
    try:
        yield
    finally:
        context.detach(token)
