"""Structural schemas of the built-in kinds kfunc renders, derived from the ``kubernetes`` client's models.

Each model class lists its fields publicly (``openapi_types``: Python name -> type, ``attribute_map``:
Python name -> JSON name), which is enough to catch unknown fields and wrong types offline, as the
API server's strict field validation would. Quantities are strings in the client but int-or-string
on the wire; IntOrString fields are ``object`` there and stay open. Required fields and value
rules are left to the server's dry run.
"""
from __future__ import annotations

import functools
import re

from kubernetes import client as k8s

from .values import QUANTITY

MODELS = {
    ("apps/v1", "Deployment"): "V1Deployment",
    ("apps/v1", "DaemonSet"): "V1DaemonSet",
    ("batch/v1", "Job"): "V1Job",
    ("v1", "Service"): "V1Service",
    ("autoscaling/v2", "HorizontalPodAutoscaler"): "V2HorizontalPodAutoscaler",
}
_QUANTITY = {"x-kubernetes-int-or-string": True, "pattern": QUANTITY.pattern}
_QUANTITY_FIELDS = {("V1ResourceRequirements", "limits"), ("V1ResourceRequirements", "requests"),
                    ("V2MetricTarget", "average_value"), ("V2MetricTarget", "value"),
                    ("V1EmptyDirVolumeSource", "size_limit")}
_PRIMITIVES = {"str": {"type": "string"}, "int": {"type": "integer"}, "float": {"type": "number"},
               "bool": {"type": "boolean"}, "datetime": {"type": "string"}, "date": {"type": "string"},
               "object": {"x-kubernetes-preserve-unknown-fields": True}}
_CONTAINER = re.compile(r"^(List|Dict)\[(?:str,\s*)?(.+)\]$")


def built_in_schema(api_version: str, kind: str) -> dict | None:
    """The schema of a built-in kind kfunc renders, or None for any other kind."""
    model = MODELS.get((api_version, kind))
    return _model_schema(model) if model else None


@functools.lru_cache(maxsize=None)
def _model_schema(model: str) -> dict:
    cls = getattr(k8s, model)
    properties: dict = {}
    schema = {"type": "object", "properties": properties}
    for attribute, type_name in cls.openapi_types.items():
        if (model, attribute) in _QUANTITY_FIELDS:
            item = {"type": "object", "additionalProperties": _QUANTITY} if type_name.startswith("Dict") else _QUANTITY
        else:
            item = _type_schema(type_name)
        properties[cls.attribute_map[attribute]] = item
    return schema


def _type_schema(type_name: str) -> dict:
    container = _CONTAINER.match(type_name)
    if container:
        inner = _type_schema(container.group(2))
        return {"type": "array", "items": inner} if container.group(1) == "List" else {
            "type": "object", "additionalProperties": inner}
    if type_name in _PRIMITIVES:
        return _PRIMITIVES[type_name]
    return _model_schema(type_name)
