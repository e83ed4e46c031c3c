"""The shape and webhook rules of a Knative Eventing ``eventing.knative.dev/v1`` Trigger.

Eventing's CRDs are not always at hand (``--crds`` may hold Serving's only), so the Trigger's
shape is checked here too (knative/eventing ``trigger_validation.go``).
"""
from __future__ import annotations

import re

from .problems import Problem, object_label

SPEC_FIELDS = ("broker", "filter", "filters", "subscriber", "delivery")
ATTRIBUTE_NAME = re.compile(r"^[a-z][a-z0-9]*$")  # CloudEvents attribute names a filter may use


def trigger_problems(obj: dict) -> list[Problem]:
    """Broker set, filter attribute names valid, subscriber a ref or a URI, no unknown spec fields."""
    label = object_label(obj)
    problems: list[Problem] = []

    def report(path: str, message: str, fix: str) -> None:
        problems.append(Problem(label, path, message, fix))

    spec = obj.get("spec") if isinstance(obj.get("spec"), dict) else {}
    for key in spec:
        if key not in SPEC_FIELDS:
            report(f"spec.{key}", f"unknown field 'spec.{key}'", f"remove it; allowed: {', '.join(SPEC_FIELDS)}")
    if not spec.get("broker"):
        report("spec.broker", "required field is missing", "name the Broker (deploy.trigger.broker)")
    attributes = (spec.get("filter") or {}).get("attributes") if isinstance(spec.get("filter"), dict) else None
    for name, value in (attributes or {}).items():
        if not ATTRIBUTE_NAME.match(str(name)):
            report(f"spec.filter.attributes[{name!r}]", "not a CloudEvents attribute name",
                   "use lowercase letters and digits, starting with a letter (e.g. type, source)")
        if not isinstance(value, str):
            report(f"spec.filter.attributes[{name!r}]", f"expected a string, got {value!r}", "quote the value")
    subscriber = spec.get("subscriber") if isinstance(spec.get("subscriber"), dict) else {}
    ref = subscriber.get("ref")
    if not ref and not subscriber.get("uri"):
        report("spec.subscriber", "needs a ref or a uri", "point ref at the function's Service")
    if isinstance(ref, dict):
        for field in ("apiVersion", "kind", "name"):
            if not ref.get(field):
                report(f"spec.subscriber.ref.{field}", "required field is missing", "add it")
    return problems
