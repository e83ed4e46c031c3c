"""Wait for the cache warm-up (knative/cache_warm.py) to finish before the Services are applied.

A Job is done once a pod succeeded; its ``Failed`` condition stops the deploy with the reason its
newest failed pod gives (the warm-up's last log lines: its termination message). A DaemonSet is
done, as for ``kubectl rollout status``, once its controller has seen the applied generation and
every node it schedules on runs an updated pod that is ready (its init containers warmed the node).
"""
from __future__ import annotations

from .kube import Kube
from .readiness import DeployFailed, DeployTimeout, Progress, condition, polls

JOB_NAME_LABEL = "job-name"  # on a Job's pods (also batch.kubernetes.io/job-name since Kubernetes 1.27)


def wait_warmed(kube: Kube, obj: dict, timeout_s: float, on_progress: Progress = lambda _: None) -> None:
    """Poll the applied Job or DaemonSet ``obj`` until the cache is warm; DeployFailed or DeployTimeout otherwise."""
    kind, namespace, name = obj["kind"], obj["metadata"]["namespace"], obj["metadata"]["name"]
    last = ""
    for _ in polls(timeout_s):
        found = kube.get(obj["apiVersion"], kind, namespace, name)
        if found is None:
            raise DeployFailed(f"{kind} {namespace}/{name} disappeared while warming the cache")
        done, summary = _job_state(kube, found) if kind == "Job" else _daemonset_state(found)
        if summary != last:
            on_progress(f"{kind}/{name}: {summary}")
            last = summary
        if done:
            return
    raise DeployTimeout(f"{kind} {namespace}/{name} had not warmed the cache after {timeout_s:.0f}s; last: {last}\n"
                        f"  the Services were not applied; see: kubectl describe {kind.lower()} {name} -n {namespace}")


def _job_state(kube: Kube, job: dict) -> tuple[bool, str]:
    status = job.get("status") or {}
    if status.get("succeeded", 0) >= 1:
        return True, "cache warmed"
    failed = condition(status, "Failed")
    if failed.get("status") == "True":
        namespace, name = job["metadata"]["namespace"], job["metadata"]["name"]
        pod = pod_failure(kube, namespace, name)
        raise DeployFailed(
            f"Job {namespace}/{name} failed to warm the cache: {failed.get('reason', '')}: {failed.get('message', '')}"
            + (f"\n  {pod}" if pod else "") + "\n  the Services were not applied; a Job does not run again, so "
            f"after fixing the cause: kubectl delete job {name} -n {namespace}, then deploy again")
    return False, f"warming the cache ({status.get('active', 0)} running, {status.get('failed', 0)} failed)"


def pod_failure(kube: Kube, namespace: str, job_name: str) -> str:
    """Why the newest failed pod of the Job failed ("pod P: container warm: Error (exit code 2): ..."), or ''."""
    pods = kube.list_labeled("v1", "Pod", namespace, f"{JOB_NAME_LABEL}={job_name}")
    for pod in sorted(pods, key=lambda p: p["metadata"].get("creationTimestamp", ""), reverse=True):
        status = pod.get("status") or {}
        for container in [*(status.get("initContainerStatuses") or []), *(status.get("containerStatuses") or [])]:
            ended = (container.get("state") or {}).get("terminated") or {}
            if ended.get("exitCode", 0) != 0:
                message = "\n    ".join((ended.get("message") or "").strip().splitlines())
                return (f"pod {pod['metadata']['name']}: container {container.get('name')}: "
                        f"{ended.get('reason', 'Error')} (exit code {ended['exitCode']}): {message}")
        if status.get("reason"):
            return f"pod {pod['metadata']['name']}: {status['reason']}: {status.get('message', '')}"
    return ""


def _daemonset_state(daemonset: dict) -> tuple[bool, str]:
    status = daemonset.get("status") or {}
    if status.get("observedGeneration", -1) < daemonset["metadata"].get("generation", 0):
        return False, "waiting for the DaemonSet controller"
    desired = status.get("desiredNumberScheduled", 0)
    if desired == 0:
        return True, "no node matches its node selector yet; nodes are warmed as they join"
    warmed = min(status.get("updatedNumberScheduled", 0), status.get("numberReady", 0))
    return warmed >= desired, f"{warmed}/{desired} nodes warmed"
