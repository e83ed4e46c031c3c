"""``deploy.mode`` end to end: render the mode's objects, wait for them, find and describe them in a cluster.

``knative`` is knative/manifests.py; ``raw`` and ``keda`` are knative/raw.py and knative/keda.py.
A raw/keda function is ready when its Deployment has rolled out (``kubectl rollout status``'s
rule); at 0 replicas (KEDA scaled it to zero) a rolled-out Deployment is ready too.
"""
from __future__ import annotations

from dataclasses import replace

from functions.config import FunctionConfig

from . import logging_wiring, probes
from .keda import HTTP_API, INTERCEPTOR_ANNOTATION, KEDA_API, function_host, render_keda
from .kube import Kube
from .manifests import MANAGED_BY_LABEL, NAME_LABEL, SERVING_API, Rendered, labels, render as render_knative
from .raw import APPS_API, AUTOSCALING_API, INSTANCE_LABEL, MODE_LABEL, render_raw
from .readiness import DeployFailed, DeployTimeout, Progress, ServiceState, condition, settle, wait_ready
from .settings import DeploySettings

# Scalers first, so that deleting stops the scaling before the Deployment goes.
WORKLOAD_KINDS = ((HTTP_API, "HTTPScaledObject"), (KEDA_API, "ScaledObject"), (AUTOSCALING_API, "HorizontalPodAutoscaler"),
                  (APPS_API, "Deployment"), ("v1", "Service"))


def render(config: FunctionConfig, settings: DeploySettings) -> Rendered:
    """The objects of ``settings.mode``, in the order they are applied."""
    if settings.mode == "knative":
        rendered = render_knative(config, settings)
    else:
        plan = probes.plan_startup(settings.model_size_gb)
        build = render_raw if settings.mode == "raw" else render_keda
        objects = build(config, settings, plan)
        rendered = Rendered(objects, plan, objects[0]["metadata"]["namespace"], settings.mode)
    return _with_payload_log_eventing(config, rendered)


def _with_payload_log_eventing(config: FunctionConfig, rendered: Rendered) -> Rendered:
    """``logger.eventing``'s Broker first (it must exist before the pods send to it), its Trigger last.
    The Trigger carries the function's labels (``kfunc delete`` removes it); the Broker, which other
    functions may share, only ``managed-by``."""
    extra = logging_wiring.eventing_objects(config, rendered.namespace, labels(config, None), {MANAGED_BY_LABEL: "kfunc"})
    if not extra:
        return rendered
    brokers = [o for o in extra if o["kind"] == "Broker"]
    triggers = [o for o in extra if o["kind"] != "Broker"]
    return replace(rendered, objects=[*brokers, *rendered.objects, *triggers])


def wait_for(kube: Kube, rendered: Rendered, workload: dict, timeout_s: float, progress: Progress) -> ServiceState:
    """Wait until ``workload`` (a Knative Service, or a raw/keda Deployment) is ready; its state and URL."""
    name = workload["metadata"]["name"]
    if workload["apiVersion"] == SERVING_API:
        return wait_ready(kube, rendered.namespace, name, timeout_s, progress)
    namespace = rendered.namespace
    url = address(rendered.objects, namespace, name)

    def read() -> ServiceState:
        deployment = kube.get(APPS_API, "Deployment", namespace, name)
        if deployment is None:
            raise DeployFailed(f"Deployment {namespace}/{name} disappeared while waiting for its rollout")
        return rollout_state(deployment, url)

    state, last = settle(read, name, timeout_s, progress)
    if state is None:
        raise DeployTimeout(f"Deployment {namespace}/{name} did not roll out in {timeout_s:.0f}s; last: {last}"
                            f"{pod_problems(kube, namespace, name)}\n"
                            f"  see: kubectl rollout status deployment/{name} -n {namespace}")
    if state.ready == "False":
        raise DeployFailed(f"Deployment {namespace}/{name} failed: {state.reason}: {state.message}"
                           f"{pod_problems(kube, namespace, name)}\n"
                           f"  see: kubectl describe deployment {name} -n {namespace}")
    return state


def rollout_state(deployment: dict, url: str | None) -> ServiceState:
    """Ready=True once every desired replica is updated and available and no old one is left."""
    spec, status = deployment.get("spec") or {}, deployment.get("status") or {}
    generation = (deployment.get("metadata") or {}).get("generation", 0)
    caught_up = status.get("observedGeneration", -1) >= generation
    progressing = condition(status, "Progressing")
    desired = spec.get("replicas", 1)
    updated, available = status.get("updatedReplicas", 0), status.get("availableReplicas", 0)
    counts = f"{available}/{desired} available, {updated} updated"
    if progressing.get("reason") == "ProgressDeadlineExceeded":
        ready, reason, message = "False", "ProgressDeadlineExceeded", progressing.get("message", counts)
    elif updated >= desired and status.get("replicas", 0) <= updated and available >= desired:
        ready, reason, message = "True", "", counts
    else:
        ready, reason, message = "Unknown", "RollingOut", counts
    return ServiceState(ready, reason, message, url, None, caught_up, "the Deployment controller")


def pod_problems(kube: Kube, namespace: str, name: str) -> str:
    """Why the function's pods are not ready ("\\n  pod P: function: CrashLoopBackOff: ..."), or ''."""
    lines = []
    for pod in kube.list_labeled("v1", "Pod", namespace, f"{INSTANCE_LABEL}={name}"):
        for status in (pod.get("status") or {}).get("containerStatuses") or []:
            for state in ("waiting", "terminated"):
                detail = (status.get("state") or {}).get(state)
                if detail and detail.get("reason") not in (None, "ContainerCreating", "Completed"):
                    lines.append(f"\n  pod {pod['metadata']['name']}: {status.get('name')}: "
                                 f"{detail.get('reason')}: {detail.get('message', '')}")
    return "".join(lines)


def address(objects: list[dict], namespace: str, name: str) -> str:
    """How clients reach a raw/keda function: its Service, or the KEDA interceptor with one of its hosts."""
    for obj in objects:
        if obj["kind"] == "HTTPScaledObject" and obj["metadata"]["name"] == name:
            return interceptor_url(obj)
    return f"http://{function_host(name, namespace)}"


def interceptor_url(scaled: dict) -> str:
    """``http://INTERCEPTOR (Host: HOST)`` of an HTTPScaledObject kfunc rendered."""
    interceptor = ((scaled.get("metadata") or {}).get("annotations") or {}).get(INTERCEPTOR_ANNOTATION, "?")
    hosts = (scaled.get("spec") or {}).get("hosts") or ["?"]
    return f"http://{interceptor} (Host: {hosts[0]})"


def describe_lines(obj: dict) -> list[str]:
    """The report lines of one raw/keda object: readiness, address or scaling."""
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    kind, name = obj.get("kind"), (obj.get("metadata") or {}).get("name")
    if kind == "Deployment":
        mode = obj["metadata"].get("labels", {}).get(MODE_LABEL)
        return [f"  Mode:     {mode}", f"  Ready:    {rollout_state(obj, None).summary}"]
    if kind == "Service":
        ports = ", ".join(f"{p.get('port')} ({p.get('appProtocol', p.get('name'))})" for p in spec.get("ports") or [])
        namespace = obj["metadata"].get("namespace", "default")
        return [f"  Address:  http://{function_host(name, namespace)}  ports: {ports}"]
    if kind == "HorizontalPodAutoscaler":
        return [f"  Scales:   {spec.get('minReplicas', 1)}..{spec.get('maxReplicas')} replicas "
                f"(now {status.get('currentReplicas', '?')}, want {status.get('desiredReplicas', '?')})"]
    if kind == "HTTPScaledObject":
        replicas = spec.get("replicas") or {}
        return [f"  Scales:   {replicas.get('min', 0)}..{replicas.get('max', '?')} replicas on in-flight requests",
                f"  URL:      {interceptor_url(obj)}"]
    triggers = ", ".join(t.get("type", "?") for t in spec.get("triggers") or [])
    return [f"  Scales:   {spec.get('minReplicaCount', 0)}..{spec.get('maxReplicaCount', '?')} replicas on {triggers}"]


def workload_objects(kube: Kube, namespace: str, name: str) -> list[dict]:
    """The scalers, Deployment and Service kfunc deployed for function ``name`` in mode raw or keda."""
    selector = f"{NAME_LABEL}={name},{MANAGED_BY_LABEL}=kfunc"
    return [obj for api, kind in WORKLOAD_KINDS for obj in kube.list_labeled(api, kind, namespace, selector)
            if MODE_LABEL in (obj.get("metadata") or {}).get("labels", {})]
