"""OpenTelemetry tracing: a provider per worker process, exporter chosen by ``OTEL_*`` env vars.

``OTEL_TRACES_EXPORTER=console`` prints spans (development); ``otlp`` (or any
``OTEL_EXPORTER_OTLP_*ENDPOINT``) sends them over OTLP/HTTP; unset or ``none`` records spans
for context propagation only. W3C ``traceparent`` is read from requests and written to
calls to a remote predictor.
"""
from __future__ import annotations

import logging
import os
from typing import Mapping, MutableMapping

from opentelemetry import context, propagate, trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SimpleSpanProcessor

log = logging.getLogger("kfunc")


def configure_tracing(service_name: str) -> None:
    """Install this process's tracer provider; call it after fork (exporters own threads)."""
    if isinstance(trace.get_tracer_provider(), TracerProvider):
        return
    provider = TracerProvider(resource=Resource.create({"service.name": os.environ.get("OTEL_SERVICE_NAME", service_name)}))
    exporter = _exporter_name()
    if exporter == "console":
        provider.add_span_processor(SimpleSpanProcessor(ConsoleSpanExporter()))
    elif exporter == "otlp":
        try:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        except ImportError:
            log.warning("OTEL_TRACES_EXPORTER=otlp but the exporter is not installed: pip install 'kfunc[otlp]'")
        else:
            provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)


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
