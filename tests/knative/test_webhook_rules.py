"""Knative's admission rules: each has a failing example that names the field and the fix."""
from __future__ import annotations

import copy

import pytest

from knative.autoscaling import ServingLimits
from knative.manifests import render
from knative.settings import load_deploy_settings
from knative.validate import validate_objects

ANNOTATIONS = "spec.template.metadata.annotations"


@pytest.fixture
def service(make_config) -> dict:
    config = make_config()
    return render(config, load_deploy_settings(config)).services[0]


def annotate(key: str, value: str):
    def change(svc: dict) -> None:
        svc["spec"]["template"]["metadata"]["annotations"][f"autoscaling.knative.dev/{key}"] = value
    return change


def template_spec(**fields):
    def change(svc: dict) -> None:
        svc["spec"]["template"]["spec"].update(fields)
    return change


def container(**fields):
    def change(svc: dict) -> None:
        svc["spec"]["template"]["spec"]["containers"][0].update(fields)
    return change


def traffic(*targets):
    def change(svc: dict) -> None:
        svc["spec"]["traffic"] = list(targets)
    return change


def set_path(path: list, value):
    def change(svc: dict) -> None:
        node = svc
        for key in path[:-1]:
            node = node.setdefault(key, {})
        node[path[-1]] = value
    return change


def ann(key: str) -> str:
    return f"{ANNOTATIONS}['autoscaling.knative.dev/{key}']"


RULES = [
    ("min-scale negative", annotate("min-scale", "-1"), ann("min-scale"), "fix the value"),
    ("max-scale not a number", annotate("max-scale", "ten"), ann("max-scale"), "fix the value"),
    ("max below min", lambda s: (annotate("min-scale", "3")(s), annotate("max-scale", "2")(s)), ann("max-scale"), "raise max-scale"),
    ("initial-scale 0", annotate("initial-scale", "0"), ann("initial-scale"), "fix the value"),
    ("activation-scale 1", annotate("activation-scale", "1"), ann("activation-scale"), "fix the value"),
    ("target below 0.01", annotate("target", "0.001"), ann("target"), "fix the value"),
    ("utilization over 100", annotate("target-utilization-percentage", "101"), ann("target-utilization-percentage"), "fix the value"),
    ("window too short", annotate("window", "5s"), ann("window"), "fix the value"),
    ("window not whole seconds", annotate("window", "6500ms"), ann("window"), "fix the value"),
    ("retention over an hour", annotate("scale-to-zero-pod-retention-period", "2h"), ann("scale-to-zero-pod-retention-period"), "fix the value"),
    ("scale-down-delay over an hour", annotate("scale-down-delay", "61m"), ann("scale-down-delay"), "fix the value"),
    ("unknown class", annotate("class", "foo.autoscaling.knative.dev"), ann("class"), "default KPA"),
    ("cpu metric on KPA", annotate("metric", "cpu"), ann("metric"), "metric the autoscaler class supports"),
    ("burst capacity -2", annotate("target-burst-capacity", "-2"), ann("target-burst-capacity"), "fix the value"),
    ("panic threshold 100", annotate("panic-threshold-percentage", "100"), ann("panic-threshold-percentage"), "fix the value"),
    ("autoscaling on the Service", set_path(["metadata", "annotations"], {"autoscaling.knative.dev/min-scale": "1"}),
     "metadata.annotations['autoscaling.knative.dev/min-scale']", "spec.template.metadata.annotations"),
    ("progress deadline bogus", set_path(["spec", "template", "metadata", "annotations", "serving.knative.dev/progress-deadline"], "ten minutes"),
     f"{ANNOTATIONS}['serving.knative.dev/progress-deadline']", "600s"),
    ("revision name without prefix", set_path(["spec", "template", "metadata", "name"], "other-v2"),
     "spec.template.metadata.name", "'mlp-v2'"),
    ("revision name not DNS", set_path(["spec", "template", "metadata", "name"], "mlp_v2"), "spec.template.metadata.name", "DNS-1035"),
    ("service name not DNS", set_path(["metadata", "name"], "MLP"), "metadata.name", "kfunc.yaml"),
    ("bad visibility", set_path(["metadata", "labels", "networking.knative.dev/visibility"], "private"),
     "metadata.labels['networking.knative.dev/visibility']", "cluster-local"),
    ("concurrency over 1000", template_spec(containerConcurrency=1001), "spec.template.spec.containerConcurrency", "deploy.concurrency"),
    ("timeout over 600", template_spec(timeoutSeconds=601), "spec.template.spec.timeoutSeconds", "max-revision-timeout-seconds"),
    ("reserved port", container(ports=[{"containerPort": 8012}]), "spec.template.spec.containers[0].ports[0].containerPort", "8080"),
    ("port name", container(ports=[{"containerPort": 8080, "name": "grpc"}]), "spec.template.spec.containers[0].ports[0].name", "h2c"),
    ("two ports", container(ports=[{"containerPort": 8080}, {"containerPort": 9000}]), "spec.template.spec.containers", "single port"),
    ("reserved env", container(env=[{"name": "K_SERVICE", "value": "x"}]), "spec.template.spec.containers[0].env[0].name", "Knative sets it"),
    ("reserved mount path", container(volumeMounts=[{"name": "model-cache", "mountPath": "/dev"}]),
     "spec.template.spec.containers[0].volumeMounts[0].mountPath", "mount below it"),
    ("mount without volume", container(volumeMounts=[{"name": "model-cache", "mountPath": "/c"}, {"name": "nope", "mountPath": "/d"}]),
     "spec.template.spec.containers[0].volumeMounts[1].name", "add the volume"),
    ("volume not mounted", container(volumeMounts=[]), "spec.template.spec.volumes[0]", "mount it"),
    ("readiness period 0 with failureThreshold", container(readinessProbe={"httpGet": {"path": "/"}, "failureThreshold": 3}),
     "spec.template.spec.containers[0].readinessProbe.failureThreshold", "periodSeconds to 1 or more"),
    ("readiness period 0 with timeoutSeconds", container(readinessProbe={"httpGet": {"path": "/"}, "periodSeconds": 0, "timeoutSeconds": 2}),
     "spec.template.spec.containers[0].readinessProbe.timeoutSeconds", "periodSeconds to 1 or more"),
    ("traffic sums to 90", traffic({"latestRevision": True, "percent": 90}), "spec.traffic", "add up to 100"),
    ("traffic percent over 100", traffic({"latestRevision": True, "percent": 110}, {"revisionName": "mlp-00001", "percent": -10}),
     "spec.traffic[0].percent", "0 to 100"),
    ("duplicate tags", traffic({"latestRevision": True, "percent": 50, "tag": "a"}, {"revisionName": "mlp-00001", "percent": 50, "tag": "a"}),
     "spec.traffic[1].tag", "each tag once"),
    ("tag not DNS", traffic({"latestRevision": True, "percent": 100, "tag": "Canary"}), "spec.traffic[0].tag", "DNS-1035"),
    ("latest and revisionName", traffic({"latestRevision": True, "revisionName": "mlp-00001", "percent": 100}),
     "spec.traffic[0].latestRevision", "drop revisionName"),
    ("not latest and no revision", traffic({"latestRevision": False, "percent": 100}), "spec.traffic[0].latestRevision", "name the revision"),
    ("configurationName in a Service", traffic({"configurationName": "mlp", "percent": 100}), "spec.traffic[0].configurationName", "remove configurationName"),
    ("revision of another Service", traffic({"revisionName": "other-00001", "percent": 100}), "spec.traffic[0].revisionName", "'mlp-'"),
]


@pytest.mark.parametrize("change, path, fix", [r[1:] for r in RULES], ids=[r[0] for r in RULES])
def test_each_webhook_rule_refuses_its_example(service, change, path, fix):
    broken = copy.deepcopy(service)
    change(broken)
    problems = validate_objects([broken], None).problems
    matching = [p for p in problems if p.path == path]
    assert matching, f"no problem at {path}; got {[str(p) for p in problems]}"
    assert fix in matching[0].fix and matching[0].obj.startswith("Service/")


def test_valid_service_with_traffic_split_passes(service):
    fine = copy.deepcopy(service)
    fine["spec"]["template"]["metadata"]["name"] = "mlp-v2"
    fine["spec"]["traffic"] = [{"revisionName": "mlp-v1", "percent": 80, "tag": "prev"},
                               {"latestRevision": True, "percent": 20, "tag": "canary"}]
    fine["spec"]["template"]["metadata"]["annotations"]["autoscaling.knative.dev/activation-scale"] = "2"
    assert validate_objects([fine], None).problems == []


def test_cluster_limits_change_what_is_allowed(service):
    relaxed = copy.deepcopy(service)
    relaxed["spec"]["template"]["spec"]["timeoutSeconds"] = 900
    relaxed["spec"]["template"]["metadata"]["annotations"]["autoscaling.knative.dev/initial-scale"] = "0"
    assert len(validate_objects([relaxed], None).problems) == 2
    limits = ServingLimits.from_configmaps({"max-revision-timeout-seconds": "1200"}, {"allow-zero-initial-scale": "true"})
    assert validate_objects([relaxed], None, limits).problems == []


@pytest.mark.parametrize("spec, path", [
    ({"filter": {"attributes": {"type": "x"}}, "subscriber": {"ref": {"apiVersion": "v1", "kind": "Service", "name": "s"}}}, "spec.broker"),
    ({"broker": "default", "subscriber": {}}, "spec.subscriber"),
    ({"broker": "default", "filter": {"attributes": {"Event-Type": "x"}}, "subscriber": {"uri": "http://x"}}, "spec.filter.attributes['Event-Type']"),
    ({"broker": "default", "subscriber": {"ref": {"kind": "Service", "name": "s"}}}, "spec.subscriber.ref.apiVersion"),
    ({"broker": "default", "subscribers": {}, "subscriber": {"uri": "http://x"}}, "spec.subscribers"),
])
def test_trigger_rules(spec, path):
    trigger = {"apiVersion": "eventing.knative.dev/v1", "kind": "Trigger", "metadata": {"name": "t"}, "spec": spec}
    assert path in [p.path for p in validate_objects([trigger], None).problems]
