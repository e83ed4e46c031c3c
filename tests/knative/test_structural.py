"""CRD schema validation: unknown fields (all of them), types, formats and the structural extensions."""
from __future__ import annotations

import copy

import pytest

from knative.crd_schema import CrdSchemas
from knative.manifests import render
from knative.settings import load_deploy_settings
from knative.structural import schema_problems
from knative.validate import validate_objects
from knative.values import QUANTITY


@pytest.fixture
def service(make_config) -> dict:
    config = make_config({"gpu": {"count": 1}})
    return render(config, load_deploy_settings(config)).services[0]


def paths(problems) -> list[str]:
    return [p.path for p in problems]


def test_every_unknown_field_is_listed_with_a_suggestion(service, schemas):
    broken = copy.deepcopy(service)
    container = broken["spec"]["template"]["spec"]["containers"][0]
    container["startupProbe"]["perodSeconds"] = 10
    container["gpu"] = 1
    broken["spec"]["template"]["spec"]["nodeSelecter"] = {"a": "b"}
    broken["spec"]["traffics"] = []
    broken["metadata"]["label"] = {}
    problems = validate_objects([broken], schemas).problems
    assert sorted(paths(problems)) == sorted([
        "spec.template.spec.containers[0].startupProbe.perodSeconds",
        "spec.template.spec.containers[0].gpu",
        "spec.template.spec.nodeSelecter",
        "spec.traffics",
        "metadata.label",
    ])
    by_path = {p.path: p for p in problems}
    assert all(p.message == "unknown field" and p.obj == "Service/mlp" for p in problems)
    assert by_path["spec.template.spec.nodeSelecter"].fix == "did you mean 'nodeSelector'?"
    assert by_path["metadata.label"].fix == "did you mean 'labels'?"
    assert "allowed here: args, command, env" in by_path["spec.template.spec.containers[0].gpu"].fix


def test_wrong_types_and_int_or_string(service, schemas):
    broken = copy.deepcopy(service)
    spec = broken["spec"]["template"]["spec"]
    spec["containerConcurrency"] = "8"
    spec["containers"][0]["ports"][0]["containerPort"] = 8080.5
    spec["containers"][0]["startupProbe"]["httpGet"]["port"] = True
    spec["containers"][0]["resources"]["limits"]["nvidia.com/gpu"] = "one"
    spec["containers"][0]["env"] = {"A": "1"}
    problems = {p.path: p for p in validate_objects([broken], schemas).problems}
    assert problems["spec.template.spec.containerConcurrency"].message.startswith("expected an integer, got a string")
    assert problems["spec.template.spec.containers[0].ports[0].containerPort"].fix == "write an integer"
    assert "integer or a string" in problems["spec.template.spec.containers[0].startupProbe.httpGet.port"].message
    assert "does not match the pattern" in problems["spec.template.spec.containers[0].resources.limits['nvidia.com/gpu']"].message
    assert problems["spec.template.spec.containers[0].env"].fix == "write a list"


def test_int32_range_and_preserved_fields(service, schemas):
    broken = copy.deepcopy(service)
    spec = broken["spec"]["template"]["spec"]
    spec["containers"][0]["startupProbe"]["failureThreshold"] = 2**31
    spec["tolerations"] = [{"key": "k", "operator": "Exists", "anythingGoes": 1}]  # preserve-unknown-fields
    spec["volumes"][0]["emptyDir"] = {"medium": "Memory", "futureField": True}  # preserve-unknown-fields
    problems = validate_objects([broken], schemas).problems
    assert paths(problems) == ["spec.template.spec.containers[0].startupProbe.failureThreshold"]
    assert "does not fit in int32" in problems[0].message


def test_required_enum_nullable_bounds_on_a_small_schema():
    schema = {"type": "object", "required": ["spec"], "properties": {
        "spec": {"type": "object", "required": ["mode"], "properties": {
            "mode": {"type": "string", "enum": ["a", "b"]},
            "note": {"type": "string", "nullable": True},
            "count": {"type": "integer", "minimum": 1, "maximum": 3},
            "name": {"type": "string", "pattern": "^[a-z]+$", "maxLength": 5},
            "extra": {"type": "object", "additionalProperties": {"type": "integer"}},
            "items": {"type": "array", "maxItems": 1, "items": {"type": "string"}},
            "open": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
            "closed": {"type": "object"},
        }}}}
    good = {"apiVersion": "x/v1", "kind": "X", "metadata": {"name": "n"},
            "spec": {"mode": "a", "note": None, "count": 2, "name": "abc", "extra": {"k": 1}, "items": ["x"], "open": {"q": 1}}}
    assert schema_problems(good, schema, "X/n") == []
    bad = {"apiVersion": "x/v1", "kind": "X", "metadata": {"name": "n"},
           "spec": {"mode": "c", "count": None, "name": "ABCDEFG", "extra": {"k": "1"}, "items": ["x", 2], "closed": {"k": 1}}}
    found = sorted((p.path, p.message) for p in schema_problems(bad, schema, "X/n"))
    assert found == sorted([
        ("spec.mode", "'c' is not allowed"),
        ("spec.count", "null is not allowed here"),
        ("spec.name", "'ABCDEFG' does not match the pattern ^[a-z]+$"),
        ("spec.name", "longer than 5 characters"),
        ("spec.extra.k", "expected an integer, got a string ('1')"),
        ("spec.items", "more than 1 items"),
        ("spec.items[1]", "expected a string, got an integer (2)"),
        ("spec.closed.k", "unknown field"),
    ])
    assert [p.path for p in schema_problems({"apiVersion": "x/v1", "kind": "X"}, schema, "X/n")] == ["spec"]
    too_many = dict(good, spec=dict(good["spec"], count=4))
    assert [p.message for p in schema_problems(too_many, schema, "X/n")] == ["4 is above the maximum 3"]


def test_unknown_kinds_are_reported_unchecked_and_unserved_versions_refused(service, schemas):
    other = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}}
    old = dict(copy.deepcopy(service), apiVersion="serving.knative.dev/v1alpha9")
    report = validate_objects([other, old], schemas)
    assert report.unchecked == [f"Widget/w (example.com/v1): no CRD schema for it in {schemas.source}"]
    assert [(p.path, p.fix) for p in report.problems] == [("apiVersion", "use a served version: v1")]


def test_schemas_come_from_crd_objects_as_the_cluster_lists_them(crd_documents, service):
    schemas = CrdSchemas(crd_documents)
    assert schemas.schema_for("serving.knative.dev/v1", "Service") is not None
    assert schema_problems(service, schemas.schema_for("serving.knative.dev/v1", "Service"), "Service/mlp") == []


def test_built_in_kinds_are_checked_against_the_kubernetes_models_with_or_without_crds(schemas):
    job = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "j"}, "spec": {"bogus": 1}}
    daemonset = {"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "d", "labelz": {}}}
    hpa = {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "metadata": {"name": "h"},
           "spec": {"maxReplicas": "3", "metrics": [{"type": "Pods", "pods": {"target": {"averageValue": "4x"}}}]}}
    misspelt = {"apiVersion": "batch/v2", "kind": "Job", "metadata": {"name": "k"}}
    for given in (schemas, None):
        report = validate_objects([job, daemonset, hpa, misspelt], given)
        assert [(p.obj, p.path, p.message) for p in report.problems] == [
            ("Job/j", "spec.bogus", "unknown field"),
            ("DaemonSet/d", "metadata.labelz", "unknown field"),
            ("HorizontalPodAutoscaler/h", "spec.maxReplicas", "expected an integer, got a string ('3')"),
            ("HorizontalPodAutoscaler/h", "spec.metrics[0].pods.target.averageValue",
             "'4x' does not match the pattern " + QUANTITY.pattern),
        ]
        assert report.problems[1].fix == "did you mean 'labels'?"
        assert report.unchecked == [f"Job/k (batch/v2): no CRD schema {f'for it in {given.source}' if given else 'given'}"]
