"""Where a rollout's analysis reads how the new version behaves: Prometheus (Istio metrics) or a metrics URL.

Both answer one :class:`Sample` for a Knative Service over the last ``window`` seconds.

Prometheus: Istio's standard metrics as reported by the function pods' sidecars
(``reporter="destination"``), selected by the Knative revision deployments of the service
(``<ksvc>-<n>-deployment``); the gateway's own reports cannot tell the versions apart, since
they all go to the local gateway host.

Metrics URL contract: ``GET URL?service=<ksvc>&namespace=<ns>&window=<seconds>`` answers JSON
``{"requests": <count>, "errors": <5xx count>, "p99_ms": <number or null>}`` for that window.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import urlencode

import urllib3

from functions.errors import KFuncError

_HTTP = urllib3.PoolManager(timeout=urllib3.Timeout(connect=5.0, read=30.0), retries=False)


class MetricsError(KFuncError):
    """The metrics source could not be read or answered something unusable."""


@dataclass(frozen=True)
class Sample:
    requests: float
    errors: float
    p99_ms: float | None

    @property
    def error_rate(self) -> float:
        return self.errors / self.requests if self.requests else 0.0


class MetricsSource(Protocol):
    def sample(self, service: str, namespace: str, window_s: float) -> Sample: ...


def promql(service: str, namespace: str, window_s: float) -> dict[str, str]:
    """The three queries a Prometheus analysis runs: ``requests``, ``errors`` and ``p99_ms``."""
    selector = (f'reporter="destination",destination_workload_namespace="{namespace}",'
                f'destination_workload=~"{service}-[0-9]+-deployment"')
    window = f"{max(1, round(window_s))}s"
    return {
        "requests": f"sum(increase(istio_requests_total{{{selector}}}[{window}]))",
        "errors": f'sum(increase(istio_requests_total{{{selector},response_code=~"5.."}}[{window}]))',
        "p99_ms": f"histogram_quantile(0.99, sum by (le) (rate(istio_request_duration_milliseconds_bucket{{{selector}}}[{window}])))",
    }


class PrometheusSource:
    """Instant queries against ``<url>/api/v1/query``."""

    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")

    def sample(self, service: str, namespace: str, window_s: float) -> Sample:
        values = {name: self._scalar(query) for name, query in promql(service, namespace, window_s).items()}
        return Sample(values["requests"] or 0.0, values["errors"] or 0.0, values["p99_ms"])

    def _scalar(self, query: str) -> float | None:
        body = _get_json(f"{self.url}/api/v1/query?{urlencode({'query': query})}", "Prometheus")
        if body.get("status") != "success":
            raise MetricsError(f"Prometheus refused {query}: {body.get('error', body)}")
        result = (body.get("data") or {}).get("result") or []
        if not result:
            return None
        try:
            value = float(result[0]["value"][1])
        except (KeyError, IndexError, TypeError, ValueError):
            raise MetricsError(f"Prometheus answered an unexpected result for {query}: {result[0]!r}") from None
        return None if math.isnan(value) else value


class MetricsUrlSource:
    """The simple JSON contract in this module's docstring."""

    def __init__(self, url: str) -> None:
        self.url = url

    def sample(self, service: str, namespace: str, window_s: float) -> Sample:
        separator = "&" if "?" in self.url else "?"
        query = urlencode({"service": service, "namespace": namespace, "window": f"{window_s:g}"})
        body = _get_json(f"{self.url}{separator}{query}", "the metrics URL")
        try:
            p99 = body.get("p99_ms")
            return Sample(float(body["requests"]), float(body["errors"]), None if p99 is None else float(p99))
        except (KeyError, TypeError, ValueError, AttributeError):
            raise MetricsError(f"the metrics URL answered {body!r}; want "
                               '{"requests": <count>, "errors": <count>, "p99_ms": <number or null>}') from None


def _get_json(url: str, what: str) -> dict:
    try:
        response = _HTTP.request("GET", url)
    except urllib3.exceptions.HTTPError as exc:
        raise MetricsError(f"cannot reach {what} at {url}: {exc}") from None
    if response.status != 200:
        raise MetricsError(f"{what} answered HTTP {response.status} for {url}: {response.data[:300]!r}")
    try:
        return json.loads(response.data)
    except ValueError:
        raise MetricsError(f"{what} answered something that is not JSON: {response.data[:300]!r}") from None
