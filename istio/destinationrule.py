"""The DestinationRule kfunc applies for the Knative local gateway host: connection pool and outlier detection.

Every destination kfunc routes to is that one gateway host, so the policy is per namespace (one
rule, ``kfunc-local-gateway``, shared by the namespace's functions) and protects the path to the
gateway pods: it caps connections and queued requests, and ejects a gateway pod after repeated 5xx.
"""
from __future__ import annotations

from dataclasses import dataclass

from functions.errors import ConfigError

from .hosts import ISTIO_API, LOCAL_GATEWAY_HOST, MANAGED_BY_LABEL
from .plan import check_duration

RULE_NAME = "kfunc-local-gateway"


@dataclass(frozen=True)
class GatewayPolicy:
    max_connections: int = 1024
    max_pending_requests: int = 1024
    max_requests: int = 1024
    consecutive_5xx: int = 5
    interval: str = "10s"
    base_ejection_time: str = "30s"
    max_ejection_percent: int = 50

    def __post_init__(self) -> None:
        for option, value in (("--max-connections", self.max_connections), ("--max-pending", self.max_pending_requests),
                              ("--max-requests", self.max_requests), ("--eject-after-5xx", self.consecutive_5xx)):
            if value < 1:
                raise ConfigError(f"{option} {value}: must be at least 1")
        if not 0 <= self.max_ejection_percent <= 100:
            raise ConfigError(f"--max-ejection-percent {self.max_ejection_percent}: use 0 to 100")
        check_duration(self.interval, "--ejection-interval")
        check_duration(self.base_ejection_time, "--ejection-time")


def destination_rule(namespace: str, policy: GatewayPolicy = GatewayPolicy()) -> dict:
    return {
        "apiVersion": ISTIO_API,
        "kind": "DestinationRule",
        "metadata": {"name": RULE_NAME, "namespace": namespace, "labels": {MANAGED_BY_LABEL: "kfunc"}},
        "spec": {
            "host": LOCAL_GATEWAY_HOST,
            "trafficPolicy": {
                "connectionPool": {
                    "tcp": {"maxConnections": policy.max_connections},
                    "http": {"http1MaxPendingRequests": policy.max_pending_requests,
                             "http2MaxRequests": policy.max_requests},
                },
                "outlierDetection": {
                    "consecutive5xxErrors": policy.consecutive_5xx,
                    "interval": policy.interval,
                    "baseEjectionTime": policy.base_ejection_time,
                    "maxEjectionPercent": policy.max_ejection_percent,
                },
            },
        },
    }
