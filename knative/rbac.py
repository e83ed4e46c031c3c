"""The least a namespace-scoped user needs for ``kfunc deploy``, ``traffic``, ``rollout``, ``describe`` and ``delete``.

``kfunc deploy --print-role`` prints these Roles. kfunc reads CRD schemas from ``/openapi/v3``,
which every authenticated user may read, so no ClusterRole is needed. The second Role, in
``knative-serving``, is optional: without it kfunc skips the feature-flag preflight and uses
Knative's default limits (the server dry run still enforces the cluster's).
"""
from __future__ import annotations

from .features import NAMESPACE as SERVING_NAMESPACE

WRITE = ["get", "list", "watch", "create", "patch", "update", "delete"]
READ = ["get", "list", "watch"]
ROLE_NAME = "kfunc-deployer"


def deployer_roles(namespace: str) -> list[dict]:
    """The Role for ``namespace`` and the read-only one for Knative's ConfigMaps."""
    rules = [
        {"apiGroups": ["serving.knative.dev"], "resources": ["services"], "verbs": WRITE},
        {"apiGroups": ["serving.knative.dev"], "resources": ["revisions", "routes", "configurations"], "verbs": READ},
        {"apiGroups": ["eventing.knative.dev"], "resources": ["triggers", "brokers"], "verbs": WRITE},
        {"apiGroups": ["networking.istio.io"], "resources": ["virtualservices", "destinationrules"], "verbs": WRITE},
        {"apiGroups": [""], "resources": ["services"], "verbs": WRITE},
        {"apiGroups": [""], "resources": ["pods"], "verbs": READ},
        {"apiGroups": ["batch"], "resources": ["jobs"], "verbs": WRITE},
        {"apiGroups": ["apps"], "resources": ["daemonsets"], "verbs": WRITE},
    ]
    config = {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get"],
              "resourceNames": ["config-features", "config-defaults", "config-autoscaler"]}
    return [_role(ROLE_NAME, namespace, rules), _role(f"{ROLE_NAME}-read-config", SERVING_NAMESPACE, [config])]


def _role(name: str, namespace: str, rules: list[dict]) -> dict:
    return {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
            "metadata": {"name": name, "namespace": namespace, "labels": {"app.kubernetes.io/managed-by": "kfunc"}},
            "rules": rules}
