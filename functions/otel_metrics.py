"""The request metrics through OpenTelemetry too, when an exporter is configured.

``OTEL_METRICS_EXPORTER=console`` prints them, ``otlp`` (or any ``OTEL_EXPORTER_OTLP_*ENDPOINT``)
sends them over OTLP/HTTP, every ``OTEL_METRIC_EXPORT_INTERVAL`` ms; unset or ``none``: only
``/metrics`` has them and nothing is recorded twice. Instruments: ``kfunc.requests`` (counter),
``kfunc.request.duration``, ``kfunc.request.phase.duration``, ``kfunc.queue.duration`` and
``kfunc.batch.size`` (histograms).
"""
from __future__ import annotations

import logging
import os

from . import metrics
from .timing import PHASES

log = logging.getLogger("kfunc")
_configured = False


class _Instruments:
    """A ``metrics.Listener`` recording into OpenTelemetry instruments."""

    def __init__(self, meter) -> None:
        self.requests = meter.create_counter("kfunc.requests", unit="{request}",
                                             description="Inference requests answered")
        self.duration = meter.create_histogram("kfunc.request.duration", unit="s",
                                               description="Inference request latency in the server")
        self.phase = meter.create_histogram("kfunc.request.phase.duration", unit="s",
                                            description="Time inference requests spent per phase")
        self.queue = meter.create_histogram("kfunc.queue.duration", unit="s",
                                            description="Time a request waited in the batch queue")
        self.batch_size = meter.create_histogram("kfunc.batch.size", unit="{request}",
                                                 description="Requests stacked into one predictor call")

    def request(self, protocol: str, status: int, latency: float, phases: tuple[float, ...] | None) -> None:
        self.requests.add(1, {"protocol": protocol, "http.response.status_code": status})
        self.duration.record(latency, {"protocol": protocol})
        for phase, seconds in zip(PHASES, phases or ()):
            self.phase.record(seconds, {"phase": phase})

    def batch(self, size: int, queue_seconds: list[float]) -> None:
        self.batch_size.record(size)
        for seconds in queue_seconds:
            self.queue.record(seconds)


def configure_metrics(service_name: str) -> None:
    """Install this process's meter provider and instruments if an exporter is configured (after fork)."""
    global _configured
    name = _exporter_name()
    if _configured or name == "none":
        return
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import ConsoleMetricExporter, PeriodicExportingMetricReader
    from opentelemetry.sdk.resources import Resource

    if name == "console":
        exporter = ConsoleMetricExporter()
    elif name == "otlp":
        try:
            from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
        except ImportError:
            log.warning("OTEL_METRICS_EXPORTER=otlp but the exporter is not installed: pip install 'kfunc[otlp]'")
            return
        exporter = OTLPMetricExporter()
    else:
        log.warning("OTEL_METRICS_EXPORTER=%s is not supported; use console, otlp or none", name)
        return
    resource = Resource.create({"service.name": os.environ.get("OTEL_SERVICE_NAME", service_name)})
    provider = MeterProvider(resource=resource, metric_readers=[PeriodicExportingMetricReader(exporter)])
    metrics.add_listener(_Instruments(provider.get_meter("kfunc")))
    _configured = True


def _exporter_name() -> str:
    name = os.environ.get("OTEL_METRICS_EXPORTER", "").strip().lower()
    if not name and any(os.environ.get(v) for v in ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT")):
        return "otlp"
    return name or "none"
