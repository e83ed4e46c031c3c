"""Wait for a Knative Service to become Ready, reporting progress; explain a failure by its revision.

A Service's status only counts once ``observedGeneration`` has caught up with the applied
``generation`` (otherwise an update would look Ready from the previous revision's status).
"""
from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from functions.errors import KFuncError

from .kube import Kube
from .manifests import SERVING_API

MAX_POLL_SECONDS = 2.0
Progress = Callable[[str], None]


class DeployFailed(KFuncError):
    """The Service or its latest revision reports Ready=False; the message carries reason and message."""

    exit_code = 4  # scaffold/cli.py: the cluster refused


class DeployTimeout(KFuncError):
    """The Service was not Ready in time; the message says what it was last waiting for."""

    exit_code = 5  # scaffold/cli.py: timed out


@dataclass(frozen=True)
class ServiceState:
    ready: str
    reason: str
    message: str
    url: str | None
    latest_revision: str | None
    caught_up: bool
    controller: str = "Knative"  # who reconciles it ("the Deployment controller" in modes raw and keda)

    @property
    def summary(self) -> str:
        if not self.caught_up:
            return f"waiting for {self.controller} to reconcile the new generation"
        detail = ": ".join(part for part in (self.reason, self.message) if part)
        return f"Ready={self.ready}{' ' + detail if detail else ''}"


def condition(status: dict, kind: str) -> dict:
    """The condition of type ``kind`` in an object's status, or {}."""
    return next((c for c in status.get("conditions") or [] if c.get("type") == kind), {})


def state_of(service: dict) -> ServiceState:
    """Read the Ready condition of the generation that was applied last."""
    status = service.get("status") or {}
    ready = condition(status, "Ready")
    generation = (service.get("metadata") or {}).get("generation", 0)
    return ServiceState(
        ready=str(ready.get("status", "Unknown")), reason=str(ready.get("reason", "")),
        message=str(ready.get("message", "")), url=status.get("url"),
        latest_revision=status.get("latestCreatedRevisionName"),
        caught_up=status.get("observedGeneration", -1) >= generation)


def revision_failure(kube: Kube, namespace: str, revision: str | None) -> str:
    """The failing conditions of ``revision`` ("ContainerHealthy: ExitCode1: ..."), or '' if none."""
    if not revision:
        return ""
    found = kube.get(SERVING_API, "Revision", namespace, revision) or {}
    failing = [c for c in (found.get("status") or {}).get("conditions") or [] if c.get("status") == "False"]
    causes = [c for c in failing if c.get("type") != "Ready"] or failing  # Ready only repeats a cause
    return "; ".join(f"{c.get('type')}: {c.get('reason', '')}: {c.get('message', '')}" for c in causes)


def polls(timeout_s: float, poll_s: float = 0.2) -> Iterator[None]:
    """Yield at once, then after each pause (backing off to every 2 s) until ``timeout_s`` has passed."""
    deadline = time.monotonic() + timeout_s
    while True:
        yield
        if time.monotonic() >= deadline:
            return
        time.sleep(min(poll_s, max(0.0, deadline - time.monotonic())))
        poll_s = min(poll_s * 1.5, MAX_POLL_SECONDS)


def settle(read: Callable[[], ServiceState], name: str, timeout_s: float, on_progress: Progress,
           poll_s: float = 0.2) -> tuple[ServiceState | None, str]:
    """Poll ``read`` until its state has caught up with Ready True or False, reporting each new
    summary; that state (None after ``timeout_s``) and the last summary."""
    last = ""
    for _ in polls(timeout_s, poll_s):
        state = read()
        if state.summary != last:
            on_progress(f"{name}: {state.summary}")
            last = state.summary
        if state.caught_up and state.ready in ("True", "False"):
            return state, last
    return None, last


def wait_ready(kube: Kube, namespace: str, name: str, timeout_s: float,
               on_progress: Progress = lambda _: None, poll_s: float = 0.2) -> ServiceState:
    """Poll until Ready=True; raise DeployFailed on Ready=False, DeployTimeout after ``timeout_s``."""
    def read() -> ServiceState:
        service = kube.get(SERVING_API, "Service", namespace, name)
        if service is None:
            raise DeployFailed(f"Service {namespace}/{name} disappeared while waiting for it to become Ready")
        return state_of(service)

    state, last = settle(read, name, timeout_s, on_progress, poll_s)
    if state is None:
        raise DeployTimeout(f"Service {namespace}/{name} was not Ready after {timeout_s:.0f}s; last: {last}\n"
                            f"  see: kubectl get ksvc {name} -n {namespace} -o yaml")
    if state.ready == "False":
        detail = revision_failure(kube, namespace, state.latest_revision)
        revision = f"\n  revision {state.latest_revision}: {detail}" if detail else ""
        raise DeployFailed(f"Service {namespace}/{name} failed: {state.reason}: {state.message}{revision}\n"
                           f"  see: kubectl describe revision {state.latest_revision} -n {namespace}")
    return state
