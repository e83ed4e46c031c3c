"""Validate objects before they reach a cluster: CRD schemas, then Knative's webhook rules.

``validate_objects`` checks each object against its CRD schema (when one was given) and the
admission rules of its kind. The built-in kinds kfunc renders (Deployment, Service, HPA, the
cache warm-up Job and DaemonSet) are checked against schemas derived from the ``kubernetes``
client's models (knative/builtin_schema.py), with or without a cluster. Kinds without a schema
are listed in ``unchecked`` instead of passing silently.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from .autoscaling import ServingLimits
from .builtin_schema import built_in_schema
from .crd_schema import CrdSchemas
from .eventing_rules import trigger_problems
from .problems import Problem, ValidationFailed, object_label
from .serving_rules import service_problems
from .structural import schema_problems


@dataclass
class ValidationReport:
    problems: list[Problem] = field(default_factory=list)
    unchecked: list[str] = field(default_factory=list)
    without_schemas: bool = False

    def raise_for_problems(self) -> None:
        if self.problems:
            raise ValidationFailed(self.problems)

    def notes(self) -> list[str]:
        """One line per object no schema checked, to print (deploy and traffic alike)."""
        hint = " (pass --crds DIR for schema checks)" if self.without_schemas else ""
        return [f"note: {item}; webhook rules were checked{hint}" for item in self.unchecked]


def validate_objects(objects: list[dict], schemas: CrdSchemas | None,
                     limits: ServingLimits = ServingLimits()) -> ValidationReport:
    """Every problem in ``objects``; ``schemas`` None checks webhook rules only."""
    report = ValidationReport(without_schemas=schemas is None)
    for obj in objects:
        report.problems.extend(_schema_check(obj, schemas, report))
        report.problems.extend(_rules_for(obj, limits))
    return report


def _schema_check(obj: dict, schemas: CrdSchemas | None, report: ValidationReport) -> list[Problem]:
    label = object_label(obj)
    api_version, kind = str(obj.get("apiVersion", "")), str(obj.get("kind", ""))
    built_in = built_in_schema(api_version, kind)
    if built_in is not None:
        return schema_problems(obj, built_in, label)
    if schemas is None or not schemas.knows(api_version, kind):
        where = f"for it in {schemas.source}" if schemas else "given"
        report.unchecked.append(f"{label} ({api_version}): no CRD schema {where}")
        return []
    schema = schemas.schema_for(api_version, kind)
    if schema is None:
        served = ", ".join(schemas.served_versions(api_version, kind))
        return [Problem(label, "apiVersion", f"{api_version} is not served for {kind}", f"use a served version: {served}")]
    return schema_problems(obj, schema, label)


def _rules_for(obj: dict, limits: ServingLimits) -> list[Problem]:
    api_version, kind = obj.get("apiVersion"), obj.get("kind")
    if api_version == "serving.knative.dev/v1" and kind == "Service":
        return service_problems(obj, limits)
    if api_version == "eventing.knative.dev/v1" and kind == "Trigger":
        return trigger_problems(obj)
    return []
