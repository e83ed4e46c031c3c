"""Preflight against ``knative-serving/config-features``: stop before apply when a flag is off.

Knative's webhook refuses pod-spec fields whose feature flag is disabled ("must not set the
field(s): spec.template.spec.nodeSelector"), the most common deploy failure KServe and Knative
users report. There is no per-Service opt-in, so the fix is a patch of the ConfigMap, which this
module writes out exactly. A key missing from the ConfigMap means Knative's built-in default.
"""
from __future__ import annotations

import json
from dataclasses import dataclass

from functions.errors import KFuncError

NAMESPACE = "knative-serving"
CONFIGMAP = "config-features"
ENABLED, ALLOWED, DISABLED = "enabled", "allowed", "disabled"
# Knative's defaults (pkg/apis/config/features.go) for the flags kfunc's manifests can need.
DEFAULTS = {
    "kubernetes.podspec-affinity": DISABLED,
    "kubernetes.podspec-nodeselector": DISABLED,
    "kubernetes.podspec-tolerations": DISABLED,
    "kubernetes.podspec-runtimeclassname": DISABLED,
    "kubernetes.podspec-persistent-volume-claim": DISABLED,
    "kubernetes.podspec-persistent-volume-write": DISABLED,
    "kubernetes.podspec-volumes-hostpath": DISABLED,
    "kubernetes.podspec-volumes-emptydir": ENABLED,
    "kubernetes.podspec-init-containers": DISABLED,
}
# Fields Knative masks out only when the flag is "disabled"; volume and init-container checks want "enabled".
_ALLOWED_SUFFICES = {"kubernetes.podspec-affinity", "kubernetes.podspec-nodeselector",
                     "kubernetes.podspec-tolerations", "kubernetes.podspec-runtimeclassname"}
_POD_FIELDS = {
    "affinity": "kubernetes.podspec-affinity",
    "nodeSelector": "kubernetes.podspec-nodeselector",
    "tolerations": "kubernetes.podspec-tolerations",
    "runtimeClassName": "kubernetes.podspec-runtimeclassname",
    "initContainers": "kubernetes.podspec-init-containers",
}


@dataclass(frozen=True)
class Need:
    """A manifest field and the flag it needs."""

    obj: str
    field: str
    flag: str


class FeaturesDisabled(KFuncError):
    """The cluster's Knative would refuse these fields; the message holds the kubectl patch that fixes it."""

    def __init__(self, missing: list[tuple[Need, str]]) -> None:
        self.missing = missing
        self.patch_command = patch_command(sorted({need.flag for need, _ in missing}))
        lines = "\n".join(f"  - {need.obj}: {need.field} needs {need.flag} (now {value!r})" for need, value in missing)
        super().__init__(
            f"Knative Serving would refuse this deploy; these features are off in {NAMESPACE}/{CONFIGMAP}:\n{lines}\n"
            f"Enable them with:\n  {self.patch_command}\n"
            "(If the Knative Operator manages Serving, set them under spec.config.features of the "
            "KnativeServing resource instead; the operator reverts direct ConfigMap edits.)")


def patch_command(flags: list[str]) -> str:
    """The exact ``kubectl patch`` that sets every flag in ``flags`` to enabled."""
    data = json.dumps({"data": {flag: ENABLED for flag in flags}}, separators=(",", ":"))
    return f"kubectl patch configmap/{CONFIGMAP} -n {NAMESPACE} --type merge -p '{data}'"


def needed_features(objects: list[dict]) -> list[Need]:
    """Which gated flags the Services in ``objects`` rely on."""
    needs = []
    for obj in objects:
        if obj.get("kind") != "Service":
            continue
        label = f"Service/{obj['metadata']['name']}"
        pod = obj["spec"]["template"]["spec"]
        path = "spec.template.spec"
        needs += [Need(label, f"{path}.{field}", flag) for field, flag in _POD_FIELDS.items() if pod.get(field)]
        for index, volume in enumerate(pod.get("volumes") or []):
            where = f"{path}.volumes[{index}]"
            if "persistentVolumeClaim" in volume:
                needs.append(Need(label, f"{where}.persistentVolumeClaim", "kubernetes.podspec-persistent-volume-claim"))
                if not volume["persistentVolumeClaim"].get("readOnly"):
                    needs.append(Need(label, f"{where}.persistentVolumeClaim (writable)",
                                      "kubernetes.podspec-persistent-volume-write"))
            if "hostPath" in volume:
                needs.append(Need(label, f"{where}.hostPath", "kubernetes.podspec-volumes-hostpath"))
            if "emptyDir" in volume:
                needs.append(Need(label, f"{where}.emptyDir", "kubernetes.podspec-volumes-emptydir"))
    return needs


def flag_value(data: dict[str, str], flag: str) -> str:
    """The flag's effective value: the ConfigMap's (any case), else Knative's default."""
    return str(data.get(flag, DEFAULTS.get(flag, DISABLED))).strip().lower()


def satisfied(flag: str, value: str) -> bool:
    return value == ENABLED or (value == ALLOWED and flag in _ALLOWED_SUFFICES)


def preflight(objects: list[dict], features_data: dict[str, str]) -> None:
    """Raise FeaturesDisabled listing every field whose flag is off, with the patch that enables them all."""
    missing = [(need, flag_value(features_data, need.flag)) for need in needed_features(objects)]
    missing = [(need, value) for need, value in missing if not satisfied(need.flag, value)]
    if missing:
        raise FeaturesDisabled(missing)
