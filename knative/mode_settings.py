"""``deploy.mode``, ``deploy.protocol`` and the settings of the raw and keda modes, with their checks.

``knative`` (the default) renders a Knative Service; ``raw`` a Deployment, Service and
HorizontalPodAutoscaler (no Knative, no scale to zero); ``keda`` a Deployment and Service scaled
by KEDA: through the HTTP add-on's interceptor (scale to zero), or on a Prometheus query.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from functions.config import FunctionConfig
from functions.errors import ConfigError

from .values import DNS1123_LABEL, check_quantity

if TYPE_CHECKING:
    from .settings import DeploySettings

Mode = Literal["knative", "raw", "keda"]
MODES: tuple[str, ...] = ("knative", "raw", "keda")
PROTOCOLS: tuple[str, ...] = ("http1", "h2c")
PREDICTOR_PROTOCOL_ENV = "KFUNC_PREDICTOR_PROTOCOL"
DEFAULT_MAX_REPLICAS = 10  # an HPA needs a maximum; Knative's 0 (unlimited) has no raw equivalent
# Settings only Knative reads: the fix for each when the mode is raw or keda.
KNATIVE_ONLY = {
    "scale.initial": "the Deployment starts with deploy.scale.min pods",
    "scale.target": "use deploy.hpa (raw) or deploy.keda.concurrency (keda)",
    "scale.metric": "use deploy.hpa.pods-metric (raw) or deploy.keda (keda)",
    "scale.utilization": "use deploy.hpa.cpu",
    "scale.window": "the HPA's own stabilisation window applies",
    "scale.scale-down-delay": "use deploy.keda.scaledown-period (keda)",
    "scale.retention": "use deploy.keda.scaledown-period (keda)",
    "concurrency": "it sets Knative's queue-proxy limit; the runtime's workers x threads bound a raw pod",
    "timeout": "it sets Knative's request timeout; set runtime.timeout",
}


def _positive(value: float) -> str | None:
    return None if value > 0 else "must be greater than 0"


def _check_hosts(hosts: list[str]) -> str | None:
    bad = [h for h in hosts if not h or "/" in h or " " in h]
    return f"{bad[0]!r} is not a host name; write it like fn.example.com" if bad else None


def _check_namespace(value: str) -> str | None:
    return None if DNS1123_LABEL.match(value) else f"{value!r} is not a namespace name"


@dataclass(frozen=True)
class HpaSettings:
    """Mode raw's HorizontalPodAutoscaler: average CPU utilisation, or a Pods metric when named."""

    cpu: int = field(default=80, metadata={"check": _positive})  # percent of the CPU request
    pods_metric: str | None = field(default=None, metadata={"yaml": "pods-metric"})
    target: str | None = field(default=None, metadata={"check": check_quantity})  # per-pod average of pods-metric


@dataclass(frozen=True)
class PrometheusTrigger:
    """A KEDA ``prometheus`` trigger: scale so that ``query`` / replicas stays at ``threshold``."""

    server: str
    query: str
    threshold: str = field(default="1", metadata={"check": check_quantity})


@dataclass(frozen=True)
class KedaSettings:
    """Mode keda: an HTTPScaledObject behind the interceptor, or a ScaledObject when ``prometheus`` is set."""

    hosts: list[str] = field(default_factory=list, metadata={"check": _check_hosts})
    concurrency: int = field(default=100, metadata={"check": _positive})  # in-flight requests per replica
    scaledown_period: int | None = field(default=None, metadata={"yaml": "scaledown-period", "check": _positive})
    interceptor_namespace: str = field(default="keda", metadata={"yaml": "interceptor-namespace",
                                                                 "check": _check_namespace})
    prometheus: PrometheusTrigger | None = None


def grpc_predictor(settings: "DeploySettings") -> bool:
    """Whether a split function's transformer calls its predictor over gRPC."""
    return settings.split and settings.env.get(PREDICTOR_PROTOCOL_ENV) == "grpc"


def port_protocol(settings: "DeploySettings") -> str:
    """What the container's one port speaks: ``deploy.protocol``, else h2c when the function asks
    for gRPC through Knative (a split transformer calling its predictor over gRPC), else http1."""
    return settings.protocol or ("h2c" if grpc_predictor(settings) else "http1")


def check_mode(config: FunctionConfig, settings: "DeploySettings") -> None:
    """Raise ConfigError for settings the chosen mode cannot honour, naming the field and the fix."""
    if settings.protocol == "http1" and grpc_predictor(settings):
        raise ConfigError(f"deploy.protocol: http1 cannot carry the transformer's gRPC calls to its predictor "
                          f"(deploy.env.{PREDICTOR_PROTOCOL_ENV} is grpc); set it to h2c or remove it")
    if settings.mode not in MODES:
        raise ConfigError(f"deploy.mode (--mode): {settings.mode!r} is not a mode; use one of {', '.join(MODES)}")
    if settings.mode == "knative":
        for section, owner in (("hpa", "raw"), ("keda", "keda")):
            if getattr(settings, section) is not None:
                raise ConfigError(f"deploy.{section}: only applies to mode {owner} (mode is knative); "
                                  f"set deploy.mode: {owner} or remove it")
        return
    for name, fix in KNATIVE_ONLY.items():
        if _asked(config, name):
            raise ConfigError(f"deploy.{name}: only applies to mode knative (mode is {settings.mode}); {fix}")
    if settings.trigger and settings.mode == "keda":
        raise ConfigError("deploy.trigger: events would reach the pods past the KEDA interceptor and be lost at zero "
                          "replicas; use mode raw or knative for an event-driven function")
    other, owner = ("keda", "keda") if settings.mode == "raw" else ("hpa", "raw")
    if getattr(settings, other) is not None:
        raise ConfigError(f"deploy.{other}: only applies to mode {owner} (mode is {settings.mode}); remove it")
    if settings.split:
        raise ConfigError(f"deploy.split (--split): only applies to mode knative (mode is {settings.mode}); "
                          "deploy the transformer and predictor as two functions")
    if settings.mode == "raw":
        _check_raw(config, settings)


def _check_raw(config: FunctionConfig, settings: "DeploySettings") -> None:
    if _asked(config, "scale.min") and settings.scale.min < 1:
        raise ConfigError("deploy.scale.min: mode raw cannot scale to zero (a HorizontalPodAutoscaler keeps at "
                          "least 1 pod); set it to 1 or more, or use mode keda or knative for scale to zero")
    hpa = settings.hpa or HpaSettings()
    if hpa.pods_metric and not hpa.target:
        raise ConfigError("deploy.hpa.target: required with deploy.hpa.pods-metric; give the per-pod average to keep")
    if hpa.target and not hpa.pods_metric:
        raise ConfigError("deploy.hpa.target: only applies with deploy.hpa.pods-metric; name the metric or remove it")
    if not hpa.pods_metric and not settings.resources.requests.cpu:
        raise ConfigError("deploy.resources.requests.cpu: required for mode raw's CPU autoscaling (utilisation is a "
                          "percent of the request); set it, or scale on deploy.hpa.pods-metric")


def min_replicas(settings: "DeploySettings") -> int:
    """The fewest pods: deploy.scale.min, at least 1 for raw (0, Knative's default, is scale to zero)."""
    return max(1, settings.scale.min) if settings.mode == "raw" else settings.scale.min


def max_replicas(settings: "DeploySettings") -> int:
    """The most pods: deploy.scale.max, else :data:`DEFAULT_MAX_REPLICAS` (never under the minimum)."""
    return max(settings.scale.max or DEFAULT_MAX_REPLICAS, min_replicas(settings), 1)


def _asked(config: FunctionConfig, dotted: str) -> bool:
    """True when kfunc.yaml's ``deploy:`` section spells out ``dotted`` (``scale.min``)."""
    node: object = config.deploy
    for key in dotted.split("."):
        if not isinstance(node, dict) or key not in node:
            return False
        node = node[key]
    return True
