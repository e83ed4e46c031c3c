"""Knative Serving webhook rules for a ``serving.knative.dev/v1`` Service, checked before apply.

The CRD schema only checks shape; Knative's admission webhook refuses more (knative/serving
``pkg/apis/serving``): annotation ranges, where autoscaling annotations may go, revision names,
concurrency and timeout limits, ports, reserved env vars and paths, probe settings, traffic.
"""
from __future__ import annotations

from . import autoscaling as scaling
from .problems import Problem, object_label
from .traffic_rules import check_traffic
from .values import dns1035_problem, parse_duration

PROGRESS_DEADLINE = "serving.knative.dev/progress-deadline"
VISIBILITY_LABEL = "networking.knative.dev/visibility"
RESERVED_PORTS = {8012, 8013, 8022, 9090, 9091, 8008}
PORT_NAMES = ("", "h2c", "http1")
RESERVED_ENV = ("PORT", "K_SERVICE", "K_CONFIGURATION", "K_REVISION")
RESERVED_PATHS = ("/", "/dev", "/dev/log")


def _mapping(value: object) -> dict:
    return value if isinstance(value, dict) else {}


def _items(value: object) -> list[dict]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


class _Rules:
    def __init__(self, obj: dict, limits: scaling.ServingLimits) -> None:
        self.label = object_label(obj)
        self.limits = limits
        self.problems: list[Problem] = []

    def report(self, path: str, message: str, fix: str) -> None:
        self.problems.append(Problem(self.label, path, message, fix))


def service_problems(obj: dict, limits: scaling.ServingLimits = scaling.ServingLimits()) -> list[Problem]:
    """Everything Knative's webhook would refuse in this Service."""
    rules = _Rules(obj, limits)
    metadata = _mapping(obj.get("metadata"))
    name = str(metadata.get("name") or "")
    problem = dns1035_problem(name)
    if problem:
        rules.report("metadata.name", problem, "rename the function in kfunc.yaml (name:)")
    for key in _mapping(metadata.get("annotations")):
        if str(key).startswith(scaling.PREFIX):
            rules.report(f"metadata.annotations[{key!r}]", "autoscaling annotations must be on the revision template",
                         "move it to spec.template.metadata.annotations")
    visibility = _mapping(metadata.get("labels")).get(VISIBILITY_LABEL)
    if visibility is not None and visibility != "cluster-local":
        rules.report(f"metadata.labels[{VISIBILITY_LABEL!r}]", f"{visibility!r} is not a visibility",
                     "use cluster-local, or remove the label for an external URL")
    spec = _mapping(obj.get("spec"))
    template = _mapping(spec.get("template"))
    _template_metadata(rules, _mapping(template.get("metadata")), name)
    _revision_spec(rules, _mapping(template.get("spec")))
    if isinstance(spec.get("traffic"), list):
        check_traffic(spec["traffic"], name, rules.report)
    return rules.problems


def _template_metadata(rules: _Rules, metadata: dict, service: str) -> None:
    revision = metadata.get("name")
    if revision:
        problem = dns1035_problem(str(revision))
        if problem:
            rules.report("spec.template.metadata.name", problem, "use a DNS-1035 label")
        elif not str(revision).startswith(f"{service}-"):
            rules.report("spec.template.metadata.name", f"revision name {revision!r} must start with '{service}-'",
                         f"name it like '{service}-v2', or drop it to let Knative generate one")
    _annotations(rules, {str(k): v for k, v in _mapping(metadata.get("annotations")).items()})


def _annotations(rules: _Rules, annotations: dict) -> None:
    path = "spec.template.metadata.annotations"
    checks = scaling.annotation_checks(rules.limits)
    for key, value in annotations.items():
        check = checks.get(key)
        problem = check(str(value)) if check else None
        if problem:
            rules.report(f"{path}[{key!r}]", problem, "fix the value, or remove the annotation for the default")
    autoscaler_class = str(annotations.get(scaling.CLASS, scaling.KPA))
    problem = scaling.check_class(autoscaler_class)
    if problem:
        rules.report(f"{path}[{scaling.CLASS!r}]", problem, "remove it for the default KPA")
    if scaling.METRIC in annotations:
        problem = scaling.check_metric(str(annotations[scaling.METRIC]), autoscaler_class)
        if problem:
            rules.report(f"{path}[{scaling.METRIC!r}]", problem, "pick a metric the autoscaler class supports")
    low, high = (_int(annotations.get(k)) for k in (scaling.MIN_SCALE, scaling.MAX_SCALE))
    if low is not None and high and high < low:
        rules.report(f"{path}[{scaling.MAX_SCALE!r}]", f"max-scale {high} is less than min-scale {low}",
                     "raise max-scale, lower min-scale, or use max-scale 0 (unlimited)")
    if PROGRESS_DEADLINE in annotations:
        seconds = parse_duration(str(annotations[PROGRESS_DEADLINE]))
        if seconds is None or seconds <= 0 or seconds != int(seconds):
            rules.report(f"{path}[{PROGRESS_DEADLINE!r}]",
                         f"{annotations[PROGRESS_DEADLINE]!r} is not a positive whole-second duration", "write it like 600s or 20m")


def _int(value: object) -> int | None:
    try:
        return int(str(value))
    except ValueError:
        return None


def _revision_spec(rules: _Rules, spec: dict) -> None:
    path = "spec.template.spec"
    concurrency = spec.get("containerConcurrency")
    if isinstance(concurrency, int) and not 0 <= concurrency <= rules.limits.container_concurrency_max:
        rules.report(f"{path}.containerConcurrency", f"{concurrency} is out of range",
                     f"use 0 (unlimited) to {rules.limits.container_concurrency_max} (deploy.concurrency)")
    timeout = spec.get("timeoutSeconds")
    limit = rules.limits.max_revision_timeout_seconds
    if isinstance(timeout, int) and not 0 <= timeout <= limit:
        rules.report(f"{path}.timeoutSeconds", f"{timeout} is over the cluster's maximum of {limit}s",
                     f"use at most {limit} (deploy.timeout), "
                     "or raise max-revision-timeout-seconds in knative-serving/config-defaults")
    containers = _items(spec.get("containers"))
    volumes = {str(v.get("name")): v for v in _items(spec.get("volumes"))}
    mounted = set()
    if sum(len(_items(c.get("ports"))) for c in containers) > 1:
        rules.report(f"{path}.containers", "more than one container port is set", "keep a single port across all containers")
    for index, container in enumerate(containers):
        where = f"{path}.containers[{index}]"
        _ports(rules, container, where)
        _env(rules, container, where)
        mounted |= _mounts(rules, container, where, volumes)
        _readiness(rules, _mapping(container.get("readinessProbe")), f"{where}.readinessProbe")
    for index, volume in enumerate(_items(spec.get("volumes"))):
        if volume.get("name") not in mounted:
            rules.report(f"{path}.volumes[{index}]", f"volume {volume.get('name')!r} is not mounted by any container",
                         "mount it (volumeMounts) or remove it")


def _ports(rules: _Rules, container: dict, where: str) -> None:
    for index, port in enumerate(_items(container.get("ports"))):
        number = port.get("containerPort")
        if number in RESERVED_PORTS:
            rules.report(f"{where}.ports[{index}].containerPort", f"{number} is reserved by Knative's queue-proxy",
                         "serve on 8080 (Knative passes it as $PORT)")
        if port.get("name", "") not in PORT_NAMES:
            rules.report(f"{where}.ports[{index}].name", f"port name {port.get('name')!r} is not allowed",
                         "leave it empty, or use http1 or h2c")


def _env(rules: _Rules, container: dict, where: str) -> None:
    for index, variable in enumerate(_items(container.get("env"))):
        if variable.get("name") in RESERVED_ENV:
            rules.report(f"{where}.env[{index}].name", f"{variable.get('name')} is a reserved environment variable",
                         "remove it; Knative sets it")


def _mounts(rules: _Rules, container: dict, where: str, volumes: dict) -> set:
    mounted = set()
    for index, mount in enumerate(_items(container.get("volumeMounts"))):
        name, mount_path = mount.get("name"), str(mount.get("mountPath") or "")
        mounted.add(name)
        if name not in volumes:
            rules.report(f"{where}.volumeMounts[{index}].name", f"no volume named {name!r}", "add the volume or fix the name")
        if (mount_path.rstrip("/") or "/") in RESERVED_PATHS:
            rules.report(f"{where}.volumeMounts[{index}].mountPath", f"{mount_path!r} is a reserved path",
                         "mount below it, e.g. /var/cache/kfunc")
        claim = _mapping(_mapping(volumes.get(name)).get("persistentVolumeClaim"))
        if claim.get("readOnly") and not mount.get("readOnly"):
            rules.report(f"{where}.volumeMounts[{index}].readOnly", "the volume is readOnly but the mount is not",
                         "set readOnly: true on the mount")
    return mounted


def _readiness(rules: _Rules, probe: dict, where: str) -> None:
    """``periodSeconds: 0`` (or unset) is Knative's fast probing, which takes no failureThreshold/timeoutSeconds."""
    if not probe:
        return
    if not probe.get("periodSeconds"):
        for field in ("failureThreshold", "timeoutSeconds"):
            if probe.get(field):
                rules.report(f"{where}.{field}", "not allowed when periodSeconds is 0 (Knative's fast probing)",
                             f"remove {field}, or set periodSeconds to 1 or more")
    elif probe.get("periodSeconds", 0) < 0:
        rules.report(f"{where}.periodSeconds", "must not be negative", "use 0 (fast probing) or more")
