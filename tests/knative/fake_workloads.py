"""What the Deployment, HPA and KEDA controllers would do to the fake API server's objects (modes raw, keda).

Each function takes the server, the object's key ``(group, plural, namespace, name)`` and the
stored object, and writes its status as the real controller would. A Deployment whose name is in
``server.failures`` misses its progress deadline, with a pod in CrashLoopBackOff saying why.
"""
from __future__ import annotations


def roll_deployment(server, key: tuple, deployment: dict) -> None:
    _, _, namespace, name = key
    spec = deployment["spec"]
    spec.setdefault("replicas", 1)  # the API server's default when the applier leaves replicas to an autoscaler
    replicas = spec["replicas"]
    generation = deployment["metadata"]["generation"]
    failure = server.failures.get(name)
    if not failure:
        deployment["status"] = {"observedGeneration": generation, "replicas": replicas, "updatedReplicas": replicas,
                                "readyReplicas": replicas, "availableReplicas": replicas,
                                "conditions": [{"type": "Available", "status": "True"},
                                               {"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable"}]}
        return
    reason, message = failure
    deployment["status"] = {"observedGeneration": generation, "replicas": replicas, "updatedReplicas": replicas,
                            "availableReplicas": 0, "unavailableReplicas": replicas,
                            "conditions": [{"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded",
                                            "message": f'ReplicaSet "{name}-6d4cf56db6" has timed out progressing.'}]}
    pod = f"{name}-6d4cf56db6-x7k2p"
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    server.objects[("", "pods", namespace, pod)] = {
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": pod, "namespace": namespace, "labels": dict(labels)},
        "status": {"phase": "Running", "containerStatuses": [
            {"name": "function", "ready": False, "state": {"waiting": {"reason": reason, "message": message}}}]},
    }


def scale_hpa(server, key: tuple, hpa: dict) -> None:
    low = hpa["spec"].get("minReplicas", 1)
    hpa["status"] = {"currentReplicas": low, "desiredReplicas": low}


def ready_scaler(server, key: tuple, scaler: dict) -> None:
    scaler["status"] = {"conditions": [{"type": "Ready", "status": "True"}]}


CONTROLLERS = {("apps", "deployments"): roll_deployment, ("autoscaling", "horizontalpodautoscalers"): scale_hpa,
               ("http.keda.sh", "httpscaledobjects"): ready_scaler, ("keda.sh", "scaledobjects"): ready_scaler}
