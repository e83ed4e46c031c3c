"""The ``deploy:`` section of ``kfunc.yaml``: how a function runs (a Knative Service, or raw/keda).

``load_deploy_settings(config)`` parses it with :func:`functions.schema.parse` and adds the
checks that span several fields; every error names the ``deploy.*`` field and the fix.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from functions.config import FunctionConfig
from functions.errors import ConfigError
from functions.schema import parse

from . import autoscaling as scaling
from .eventing_rules import ATTRIBUTE_NAME
from .logging_wiring import RESERVED_ENV as LOGGER_ENV
from .mode_settings import HpaSettings, KedaSettings, check_mode
from .serving_rules import RESERVED_ENV as KNATIVE_ENV
from .serving_rules import RESERVED_PATHS
from .values import DNS1123_LABEL, DNS1123_SUBDOMAIN, check_quantity

GPU_RESOURCES = {"nvidia": "nvidia.com/gpu", "amd": "amd.com/gpu", "intel": "gpu.intel.com/i915"}
DEFAULT_CACHE_MOUNT = "/var/cache/kfunc"
DEFAULT_NAMESPACE = "default"
# Set by Knative itself or by kfunc from other settings; a user value would be refused or lost.
RESERVED_ENV = {
    **{name: "Knative sets it" for name in KNATIVE_ENV}, "KFUNC_MODEL_URI": "set model.uri instead",
    "KFUNC_CACHE_DIR": "set deploy.cache.mount instead", "KFUNC_ROLE": "kfunc sets it with deploy.split",
    "KFUNC_PREDICTOR_HOST": "kfunc sets it with deploy.split", **LOGGER_ENV,
}
CREDENTIAL_ENV = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")
_TOLERATION_KEYS = {"key", "operator", "value", "effect", "tolerationSeconds"}


def _non_negative(value: int) -> str | None:
    return None if value >= 0 else "must be 0 or more"


def _positive(value: float) -> str | None:
    return None if value > 0 else "must be greater than 0"


def _absolute_path(value: str) -> str | None:
    if not value.startswith("/"):
        return f"{value!r} must be an absolute path"
    if (value.rstrip("/") or "/") in RESERVED_PATHS:
        return f"{value!r} is reserved by Knative; use a directory below it, e.g. {DEFAULT_CACHE_MOUNT}"
    return None


def _dns_label(value: str) -> str | None:
    if DNS1123_LABEL.match(value) and len(value) <= 63:
        return None
    return f"{value!r} must be a DNS-1123 label (lowercase letters, digits, '-')"


def _dns_subdomain(value: str) -> str | None:
    if DNS1123_SUBDOMAIN.match(value) and len(value) <= 253:
        return None
    return f"{value!r} must be a lowercase DNS-1123 name, e.g. 's3-credentials'"


def _check_env(env: dict[str, str]) -> str | None:
    for name in env:
        if name in CREDENTIAL_ENV:
            return f"{name} must not be written into kfunc.yaml; put it in a Secret and set deploy.secret to its name"
        if name in RESERVED_ENV:
            return f"{name} is reserved ({RESERVED_ENV[name]})"
        if not name or "=" in name:
            return f"{name!r} is not an environment variable name"
    return None


def _check_tolerations(items: list[dict[str, Any]]) -> str | None:
    for index, item in enumerate(items):
        unknown = sorted(set(item) - _TOLERATION_KEYS)
        if unknown:
            return f"[{index}] has unknown field {unknown[0]!r}; use {', '.join(sorted(_TOLERATION_KEYS))}"
        if item.get("operator", "Equal") not in ("Equal", "Exists"):
            return f"[{index}].operator must be Equal or Exists"
        if item.get("operator") == "Exists" and item.get("value"):
            return f"[{index}].value must be empty when operator is Exists"
        if item.get("effect", "") not in ("", "NoSchedule", "PreferNoSchedule", "NoExecute"):
            return f"[{index}].effect must be NoSchedule, PreferNoSchedule or NoExecute"
    return None


def _check_filters(filters: dict[str, str]) -> str | None:
    bad = [name for name in filters if not ATTRIBUTE_NAME.match(name)]
    if not bad:
        return None
    return f"{bad[0]!r} is not a CloudEvents attribute name (lowercase letters and digits, starting with a letter)"


@dataclass(frozen=True)
class ScaleSettings:
    """Autoscaling: written as ``autoscaling.knative.dev/*`` annotations on the revision template."""

    min: int = field(default=0, metadata={"check": scaling.check_scale})
    max: int | None = field(default=None, metadata={"check": scaling.check_scale})
    initial: int | None = field(default=None, metadata={"check": _non_negative})
    target: float | None = field(default=None, metadata={"check": scaling.check_target})
    metric: Literal["concurrency", "rps"] | None = None
    utilization: float | None = field(default=None, metadata={"check": scaling.check_utilization})
    scale_down_delay: str | None = field(
        default=None, metadata={"yaml": "scale-down-delay", "check": scaling.check_scale_down_delay})
    retention: str | None = field(default=None, metadata={"check": scaling.check_retention})
    window: str | None = field(default=None, metadata={"check": scaling.check_window})


@dataclass(frozen=True)
class Amounts:
    cpu: str | None = field(default=None, metadata={"check": check_quantity})
    memory: str | None = field(default=None, metadata={"check": check_quantity})


@dataclass(frozen=True)
class ResourcesSettings:
    requests: Amounts = field(default_factory=Amounts)
    limits: Amounts = field(default_factory=Amounts)


@dataclass(frozen=True)
class GpuSettings:
    count: int = field(default=1, metadata={"check": _positive})
    vendor: Literal["nvidia", "amd", "intel"] = "nvidia"

    @property
    def resource_name(self) -> str:
        return GPU_RESOURCES[self.vendor]


@dataclass(frozen=True)
class CacheVolume:
    """The model cache: an emptyDir (default, per pod), a PVC (shared) or a hostPath (per node).

    ``warm`` fills it before the Services are applied: a Job for a pvc, a DaemonSet for a hostPath.
    """

    volume: Literal["emptyDir", "pvc", "hostPath"] = "emptyDir"
    claim: str | None = field(default=None, metadata={"check": _dns_subdomain})
    path: str | None = field(default=None, metadata={"check": _absolute_path})
    size_limit: str | None = field(default=None, metadata={"yaml": "size-limit", "check": check_quantity})
    mount: str = field(default=DEFAULT_CACHE_MOUNT, metadata={"check": _absolute_path})
    read_only: bool = field(default=False, metadata={"yaml": "read-only"})
    warm: Literal["job", "daemonset"] | None = None  # fill it before traffic (knative/cache_warm.py)


@dataclass(frozen=True)
class TriggerSettings:
    """A Knative Eventing Trigger: events from ``broker`` matching ``filters`` go to the function."""

    broker: str = field(default="default", metadata={"check": _dns_subdomain})
    filters: dict[str, str] = field(default_factory=dict, metadata={"check": _check_filters})


REVISION_HASH_CHARS = 8  # of the hash knative/manifests.py names a model-affinity revision by


@dataclass(frozen=True)
class DeploySettings:
    """Everything ``kfunc deploy`` needs beyond name, model and runtime."""

    mode: Literal["knative", "raw", "keda"] = "knative"  # knative/mode_settings.py
    protocol: Literal["http1", "h2c"] | None = None  # the container's one port; see mode_settings.port_protocol
    namespace: str | None = field(default=None, metadata={"check": _dns_label})
    image: str | None = None
    scale: ScaleSettings = field(default_factory=ScaleSettings)
    concurrency: int | None = field(default=None, metadata={"check": _non_negative})  # 0 = unlimited
    timeout: int | None = field(default=None, metadata={"check": _positive})
    resources: ResourcesSettings = field(default_factory=ResourcesSettings)
    gpu: GpuSettings | None = None
    node_selector: dict[str, str] = field(default_factory=dict, metadata={"yaml": "node-selector"})
    tolerations: list[dict[str, Any]] = field(default_factory=list, metadata={"check": _check_tolerations})
    runtime_class: str | None = field(default=None, metadata={"yaml": "runtime-class", "check": _dns_subdomain})
    cache: CacheVolume = field(default_factory=CacheVolume)
    model_size_gb: float | None = field(default=None, metadata={"yaml": "model-size-gb", "check": _positive})
    secret: str | None = field(default=None, metadata={"check": _dns_subdomain})
    env: dict[str, str] = field(default_factory=dict, metadata={"check": _check_env})
    visibility: Literal["external", "cluster-local"] = "external"
    split: bool = False
    model_affinity: bool = field(default=False, metadata={"yaml": "model-affinity"})  # istio/placement.py
    trigger: TriggerSettings | None = None
    hpa: HpaSettings | None = None
    keda: KedaSettings | None = None


def load_deploy_settings(config: FunctionConfig) -> DeploySettings:
    """Parse ``config.deploy`` and check the rules that involve more than one field."""
    settings = parse(DeploySettings, config.deploy, "deploy")
    check_combination(config, settings)
    return settings


def check_combination(config: FunctionConfig, settings: DeploySettings) -> None:
    """Raise ConfigError for settings that are fine alone but not together (also after CLI overrides)."""
    scale = settings.scale
    if scale.max and scale.max < scale.min:
        raise ConfigError(f"deploy.scale.max: {scale.max} is less than deploy.scale.min {scale.min}; "
                          "raise max or use 0 (unlimited)")
    cache = settings.cache
    if cache.volume == "pvc" and not cache.claim:
        raise ConfigError("deploy.cache.claim: required when deploy.cache.volume is pvc; name the PersistentVolumeClaim")
    if cache.volume == "hostPath" and not cache.path:
        raise ConfigError("deploy.cache.path: required when deploy.cache.volume is hostPath; give the directory on the node")
    for name, allowed in (("claim", "pvc"), ("path", "hostPath"), ("size-limit", "emptyDir")):
        if getattr(cache, name.replace("-", "_")) is not None and cache.volume != allowed:
            raise ConfigError(f"deploy.cache.{name}: only applies to volume {allowed} (volume is {cache.volume}); remove it")
    if cache.read_only and cache.volume != "pvc":
        raise ConfigError("deploy.cache.read-only: only applies to volume pvc (a pre-filled shared cache); remove it")
    check_mode(config, settings)
    if settings.model_affinity:
        _check_model_affinity(config, settings)
    longest = f"{config.name}-transformer" if settings.split else config.name
    if len(longest) > 63:
        raise ConfigError(f"name: {longest!r} is over 63 characters; shorten the function name")


def _check_model_affinity(config: FunctionConfig, settings: DeploySettings) -> None:
    """``deploy.model-affinity`` needs a multi-model function in one Service an Envoy balances over."""
    if config.model_repository is None and config.models is None:
        raise ConfigError("deploy.model-affinity: only applies to a multi-model function (model.repository or "
                          "models:); remove it")
    if settings.split:
        raise ConfigError("deploy.model-affinity: not with deploy.split (--split): the transformer's calls would "
                          "have to carry X-Kfunc-Model to its predictor; deploy one Service")
    if settings.mode == "keda":
        raise ConfigError("deploy.model-affinity: mode keda's interceptor balances over the pods itself and ignores "
                          "the rule; use mode knative or raw")
    if settings.mode == "knative" and len(config.name) + 1 + REVISION_HASH_CHARS > 63:
        raise ConfigError(f"name: {config.name!r} is too long for deploy.model-affinity: its revision is named "
                          f"'<name>-<{REVISION_HASH_CHARS} hex digits>', at most 63 characters; shorten the function name")
