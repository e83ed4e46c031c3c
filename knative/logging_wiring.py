"""What ``logger:`` adds to a deployment: the container's logger env and Secret, and, for a
``broker:NAME`` sink, an optional Broker and a Trigger to the consumer (``logger.eventing``).

The sink URL is resolved here (a Broker's ingress in the Service's namespace), so the container
gets a plain ``KFUNC_LOGGER_URL``; the rest of ``logger:`` travels in the image's kfunc.yaml.
"""
from __future__ import annotations

from functions.config import FunctionConfig
from functions.payload_log.config import MODE_ENV, NAMESPACE_ENV, URL_ENV, LoggerSettings, logger_settings

EVENTING_API = "eventing.knative.dev/v1"
SERVING_API = "serving.knative.dev/v1"
SECRET_PREFIX = "KFUNC_LOGGER_"
RESERVED_ENV = {URL_ENV: "set logger.url instead", MODE_ENV: "set logger.mode instead",
                NAMESPACE_ENV: "kfunc sets it to deploy.namespace"}


def deployed_settings(config: FunctionConfig) -> LoggerSettings:
    """``logger:`` as the file says (the deploying shell's environment does not leak into the Service)."""
    return logger_settings(config.logger, environ={})


def container_env(config: FunctionConfig, namespace: str) -> list[dict]:
    """The logger's env vars for the container (none when logging is off)."""
    settings = deployed_settings(config)
    if not settings.enabled:
        return []
    return [{"name": URL_ENV, "value": settings.sink_url(namespace)},
            {"name": MODE_ENV, "value": settings.mode},
            {"name": NAMESPACE_ENV, "value": namespace}]


def secret_env(config: FunctionConfig) -> list[dict]:
    """``envFrom`` of the sink's Secret (keys prefixed ``KFUNC_LOGGER_``: ``AUTHORIZATION``, ``AWS_*``)."""
    settings = deployed_settings(config)
    if not settings.enabled or not settings.secret:
        return []
    return [{"prefix": SECRET_PREFIX, "secretRef": {"name": settings.secret}}]


def eventing_objects(config: FunctionConfig, namespace: str, labels: dict[str, str],
                     broker_labels: dict[str, str]) -> list[dict]:
    """The Broker (``create-broker``) and the Trigger to ``subscriber`` of ``logger.eventing``."""
    settings = deployed_settings(config)
    wiring, broker = settings.eventing, settings.broker
    if wiring is None or broker is None:
        return []
    objects = []
    if wiring.create_broker:
        objects.append({"apiVersion": EVENTING_API, "kind": "Broker",
                        "metadata": {"name": broker, "namespace": namespace, "labels": broker_labels}, "spec": {}})
    if wiring.subscriber:
        target = wiring.subscriber
        subscriber = ({"uri": target} if target.startswith(("http://", "https://"))
                      else {"ref": {"apiVersion": SERVING_API, "kind": "Service", "name": target}})
        objects.append({
            "apiVersion": EVENTING_API, "kind": "Trigger",
            "metadata": {"name": f"{config.name}-payload-log", "namespace": namespace, "labels": labels},
            "spec": {"broker": broker, "filter": {"attributes": {"inferenceservicename": config.name}},
                     "subscriber": subscriber},
        })
    return objects
