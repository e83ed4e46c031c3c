"""deploy.mode raw and keda, and deploy.protocol: what they render, that the API schemas accept it, the errors."""
from __future__ import annotations

import pytest

from functions.errors import ConfigError
from knative import probes
from knative.deploy import prepare
from knative.manifests import render as render_knative
from knative.modes import render
from knative.settings import load_deploy_settings
from knative.validate import validate_objects
from tests.conftest import write_kubeconfig

CPU = {"resources": {"requests": {"cpu": "1"}}}


@pytest.fixture
def kubeconfig(tmp_path, fake_api) -> str:
    return write_kubeconfig(tmp_path, fake_api.url)


def rendered(make_config, deploy: dict):
    config = make_config(deploy)
    return render(config, load_deploy_settings(config))


def by_kind(result) -> dict[str, dict]:
    return {obj["kind"]: obj for obj in result.objects}


def test_raw_renders_deployment_service_and_cpu_hpa_that_the_api_schemas_accept(make_config, schemas):
    result = rendered(make_config, {"mode": "raw", "namespace": "ml", "scale": {"min": 2, "max": 6}, **CPU})
    assert [(o["apiVersion"], o["kind"]) for o in result.objects] == [
        ("apps/v1", "Deployment"), ("v1", "Service"), ("autoscaling/v2", "HorizontalPodAutoscaler")]
    objects = by_kind(result)
    hpa = objects["HorizontalPodAutoscaler"]["spec"]
    assert (hpa["minReplicas"], hpa["maxReplicas"]) == (2, 6)
    assert hpa["metrics"] == [{"type": "Resource", "resource": {"name": "cpu", "target": {
        "type": "Utilization", "averageUtilization": 80}}}]
    deployment = objects["Deployment"]["spec"]
    assert "replicas" not in deployment  # the HPA owns it: a re-apply never resets the scale
    pod_labels = deployment["template"]["metadata"]["labels"]
    assert objects["Service"]["spec"]["selector"] == deployment["selector"]["matchLabels"]
    assert deployment["selector"]["matchLabels"].items() <= pod_labels.items()
    assert objects["Service"]["spec"]["ports"] == [{"name": "http1", "port": 80, "targetPort": "http1",
                                                     "protocol": "TCP", "appProtocol": "http"}]
    report = validate_objects(result.objects, schemas)
    assert report.problems == [] and report.unchecked == []


def test_raw_pods_are_the_knative_pods(make_config):
    deploy = {"gpu": {"count": 1}, "secret": "s3-credentials", "node-selector": {"pool": "gpu"},
              "cache": {"volume": "pvc", "claim": "model-cache"}, "env": {"LOG_LEVEL": "info"}, **CPU}
    knative_config = make_config(deploy)
    revision = render_knative(knative_config, load_deploy_settings(knative_config)).services[0]["spec"]["template"]["spec"]
    raw = by_kind(rendered(make_config, {**deploy, "mode": "raw"}))["Deployment"]["spec"]["template"]["spec"]
    assert {k: v for k, v in revision.items() if k not in ("containerConcurrency", "timeoutSeconds")} | {
        "containers": raw["containers"]} == raw
    (knative_container,), (raw_container,) = revision["containers"], raw["containers"]
    assert {k: v for k, v in knative_container.items() if k != "readinessProbe"} == {
        k: v for k, v in raw_container.items() if k != "readinessProbe"}
    assert raw_container["readinessProbe"]["httpGet"] == {"path": probes.READY_PATH, "port": probes.PORT}  # the kubelet probes


def test_raw_scales_on_a_named_pods_metric(make_config):
    hpa = by_kind(rendered(make_config, {"mode": "raw", "hpa": {"pods-metric": "requests_in_flight", "target": "4"}}))
    assert hpa["HorizontalPodAutoscaler"]["spec"]["metrics"] == [{"type": "Pods", "pods": {
        "metric": {"name": "requests_in_flight"}, "target": {"type": "AverageValue", "averageValue": "4"}}}]
    assert hpa["HorizontalPodAutoscaler"]["spec"]["minReplicas"] == 1  # Knative's default 0 is not asked for


def test_keda_scales_to_zero_through_the_interceptor(make_config, schemas):
    result = rendered(make_config, {"mode": "keda", "namespace": "ml", "model-size-gb": 4, "scale": {"max": 3}})
    assert [o["kind"] for o in result.objects] == ["Deployment", "Service", "HTTPScaledObject"]  # KEDA makes the HPA
    scaled = by_kind(result)["HTTPScaledObject"]
    assert scaled["spec"]["replicas"] == {"min": 0, "max": 3}
    assert scaled["spec"]["hosts"] == ["mlp.ml.svc.cluster.local"]
    assert scaled["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "mlp",
                                                "service": "mlp", "port": 80}
    assert scaled["spec"]["timeouts"]["conditionWait"] == f"{result.startup.budget_seconds}s"  # a cold model load
    report = validate_objects(result.objects, schemas)
    assert report.problems == [] and report.unchecked == []


def test_keda_with_a_prometheus_query_renders_a_scaled_object(make_config, schemas):
    prometheus = {"server": "http://prometheus.monitoring:9090", "query": "sum(rate(requests_total[1m]))",
                  "threshold": "20"}
    result = rendered(make_config, {"mode": "keda", "scale": {"min": 1}, "keda": {"prometheus": prometheus,
                                                                                  "scaledown-period": 120}})
    scaled = by_kind(result)["ScaledObject"]["spec"]
    assert scaled["triggers"] == [{"type": "prometheus", "metadata": {
        "serverAddress": prometheus["server"], "query": prometheus["query"], "threshold": "20"}}]
    assert (scaled["minReplicaCount"], scaled["maxReplicaCount"], scaled["cooldownPeriod"]) == (1, 10, 120)
    assert validate_objects(result.objects, schemas).problems == []


def test_h2c_names_the_port_in_every_mode(make_config, schemas):
    knative = rendered(make_config, {"protocol": "h2c"}).services[0]["spec"]["template"]["spec"]["containers"][0]
    assert knative["ports"] == [{"name": "h2c", "containerPort": 8080}]
    raw = by_kind(rendered(make_config, {"mode": "raw", "protocol": "h2c", **CPU}))
    assert raw["Service"]["spec"]["ports"][0]["appProtocol"] == "kubernetes.io/h2c"
    assert raw["Deployment"]["spec"]["template"]["spec"]["containers"][0]["ports"][0]["name"] == "h2c"


def test_a_split_function_whose_transformer_calls_its_predictor_over_grpc_gets_h2c_ports(make_config, schemas):
    grpc = {"split": True, "env": {"KFUNC_PREDICTOR_PROTOCOL": "grpc"}}
    services = rendered(make_config, grpc).services
    assert [s["spec"]["template"]["spec"]["containers"][0]["ports"] for s in services] == [
        [{"name": "h2c", "containerPort": 8080}]] * 2
    assert validate_objects(services, schemas).problems == []
    plain = rendered(make_config, {"split": True}).services[0]["spec"]["template"]["spec"]["containers"][0]
    assert plain["ports"] == [{"name": "http1", "containerPort": 8080}]


@pytest.mark.parametrize("deploy, message", [
    ({"mode": "serverless"}, "deploy.mode: 'serverless' is not allowed; use one of 'knative', 'raw', 'keda'"),
    ({"protocol": "grpc"}, "deploy.protocol: 'grpc' is not allowed; use one of 'http1', 'h2c'"),
    ({"protocol": "http1", "split": True, "env": {"KFUNC_PREDICTOR_PROTOCOL": "grpc"}},
     "deploy.protocol: http1 cannot carry the transformer's gRPC calls to its predictor"),
    ({"mode": "raw", "scale": {"min": 0}, **CPU}, "deploy.scale.min: mode raw cannot scale to zero"),
    ({"mode": "raw"}, "deploy.resources.requests.cpu: required for mode raw's CPU autoscaling"),
    ({"mode": "raw", "hpa": {"pods-metric": "m"}}, "deploy.hpa.target: required with deploy.hpa.pods-metric"),
    ({"mode": "raw", "concurrency": 4, **CPU}, "deploy.concurrency: only applies to mode knative (mode is raw)"),
    ({"mode": "keda", "scale": {"target": 5}}, "deploy.scale.target: only applies to mode knative (mode is keda)"),
    ({"mode": "keda", "split": True}, "deploy.split (--split): only applies to mode knative"),
    ({"mode": "keda", "trigger": {}}, "deploy.trigger: events would reach the pods past the KEDA interceptor"),
    ({"keda": {"hosts": ["a.b"]}}, "deploy.keda: only applies to mode keda (mode is knative)"),
    ({"mode": "keda", "hpa": {"cpu": 50}}, "deploy.hpa: only applies to mode raw (mode is keda)"),
])
def test_settings_a_mode_cannot_honour_are_refused_with_the_fix(make_config, deploy, message):
    with pytest.raises(ConfigError) as error:
        load_deploy_settings(make_config(deploy))
    assert str(error.value).startswith(message)


def test_raw_deploy_dry_runs_applies_waits_describes_and_deletes(kfunc, function_dir, kubeconfig, fake_api, crds_dir):
    path = function_dir({"mode": "raw", "scale": {"min": 2}, **CPU})
    status, out, err = kfunc("deploy", path, "--kubeconfig", kubeconfig, "--crds", crds_dir)
    assert status == 0, err
    assert out == "http://mlp.ml.svc.cluster.local\n"
    patches = [(r["path"].split("/")[-2], "dryRun" in r["query"]) for r in fake_api.requests if r["method"] == "PATCH"]
    assert patches == [("deployments", True), ("services", True), ("horizontalpodautoscalers", True),
                       ("deployments", False), ("services", False), ("horizontalpodautoscalers", False)]
    assert "mlp: Ready=True 1/1 available" in err
    fake_api.objects[("", "services", "ml", "mlp-route")] = {  # what kfunc traffic leaves: same labels, no mode
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "mlp-route", "namespace": "ml", "labels": {"app.kubernetes.io/name": "mlp",
                                                                        "app.kubernetes.io/managed-by": "kfunc"}}}
    status, out, err = kfunc("describe", "mlp", "--kubeconfig", kubeconfig)
    assert status == 0, err
    assert "Deployment ml/mlp\n  Mode:     raw\n  Ready:    Ready=True" in out
    assert "Address:  http://mlp.ml.svc.cluster.local  ports: 80 (http)" in out
    assert "Scales:   2..10 replicas (now 2, want 2)" in out
    status, out, err = kfunc("delete", "mlp", "--kubeconfig", kubeconfig)
    assert status == 0, err
    assert out.splitlines() == ["deleted HorizontalPodAutoscaler/mlp", "deleted Deployment/mlp", "deleted Service/mlp"]
    assert [key[1] for key in fake_api.objects] == ["services"]  # only the Service kfunc traffic owns


def test_keda_deploy_points_at_the_interceptor_and_a_failed_rollout_says_why(kfunc, function_dir, kubeconfig, fake_api):
    path = function_dir({"mode": "keda"})
    status, out, err = kfunc("deploy", path, "--kubeconfig", kubeconfig)
    assert status == 0, err
    assert out == ("http://keda-add-ons-http-interceptor-proxy.keda.svc.cluster.local:8080 "
                   "(Host: mlp.ml.svc.cluster.local)\n")
    status, out, _ = kfunc("describe", "mlp", "--kubeconfig", kubeconfig)
    assert "HTTPScaledObject ml/mlp\n  Scales:   0..10 replicas on in-flight requests" in out
    fake_api.failures["mlp"] = ("CrashLoopBackOff", "back-off 40s restarting failed container=function")
    (path / "kfunc.yaml").write_text((path / "kfunc.yaml").read_text().replace("mode: keda", "mode: keda\n  env: {A: b}"))
    status, out, err = kfunc("deploy", path, "--kubeconfig", kubeconfig)
    assert status != 0 and out == ""
    assert "Deployment ml/mlp failed: ProgressDeadlineExceeded" in err
    assert "function: CrashLoopBackOff: back-off 40s restarting failed container=function" in err
    status, out, _ = kfunc("delete", "mlp", "--kubeconfig", kubeconfig)
    assert out.splitlines() == ["deleted HTTPScaledObject/mlp", "deleted Deployment/mlp", "deleted Service/mlp"]


def test_mode_on_the_command_line_overrides_kfunc_yaml(kfunc, function_dir):
    status, out, err = kfunc("deploy", function_dir(CPU), "--dry-run", "--mode", "raw")
    assert status == 0, err
    assert [doc.split("\n", 2)[1] for doc in out.split("---\n")[1:]] == [
        "kind: Deployment", "kind: Service", "kind: HorizontalPodAutoscaler"]
    status, _, err = kfunc("deploy", function_dir({"mode": "raw", "scale": {"min": 0}}), "--dry-run")
    assert status != 0 and "use mode keda or knative for scale to zero" in err


def test_raw_warms_the_same_cache_its_pods_mount_before_the_deployment(function_dir):
    path = function_dir({"mode": "raw", "cache": {"volume": "pvc", "claim": "model-cache", "warm": "job"}, **CPU})
    result = prepare(path)
    assert [o["kind"] for o in result.objects] == ["Job", "Deployment", "Service", "HorizontalPodAutoscaler"]
    job, deployment = result.objects[0], result.objects[1]
    assert result.warm_ups == [job] and result.workloads == [deployment]
    pod = deployment["spec"]["template"]["spec"]
    assert pod["volumes"] == job["spec"]["template"]["spec"]["volumes"] == [
        {"name": "model-cache", "persistentVolumeClaim": {"claimName": "model-cache", "readOnly": False}}]
