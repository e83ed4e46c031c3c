"""``logger:`` in a deployment: the container's logger env and Secret, a ``broker:NAME`` resolved to
the namespace's Broker ingress, and the optional Broker + Trigger, valid against the Eventing CRDs."""
from __future__ import annotations

import pytest
import yaml

from functions.errors import ConfigError
from knative.modes import render
from knative.settings import load_deploy_settings
from knative.validate import validate_objects

from .test_deploy_cmd import applies, kubeconfig  # noqa: F401  (kubeconfig: the fixture)
from .test_manifests import container_of, env_of


def _rendered(make_config, logger: dict, mode: str = "knative", **deploy):
    config = make_config({"namespace": "ml", "mode": mode, **deploy}, logger=logger)
    return render(config, load_deploy_settings(config))


def test_broker_sink_is_resolved_and_wired_with_a_broker_and_trigger(make_config, schemas):
    logger = {"url": "broker:inference-log", "mode": "response", "secret": "log-credentials",
              "eventing": {"create-broker": True, "subscriber": "message-dumper"}}
    result = _rendered(make_config, logger, secret="s3-credentials")
    kinds = [obj["kind"] for obj in result.objects]
    assert kinds == ["Broker", "Service", "Trigger"]
    service = result.objects[1]
    env = env_of(service)
    assert env["KFUNC_LOGGER_URL"] == "http://broker-ingress.knative-eventing.svc.cluster.local/ml/inference-log"
    assert env["KFUNC_LOGGER_MODE"] == "response" and env["KFUNC_NAMESPACE"] == "ml"
    assert container_of(service)["envFrom"] == [{"secretRef": {"name": "s3-credentials"}},
                                                {"prefix": "KFUNC_LOGGER_", "secretRef": {"name": "log-credentials"}}]
    broker, trigger = result.objects[0], result.objects[-1]
    assert broker["metadata"]["name"] == "inference-log" and broker["metadata"]["namespace"] == "ml"
    assert trigger["spec"] == {"broker": "inference-log", "filter": {"attributes": {"inferenceservicename": "mlp"}},
                               "subscriber": {"ref": {"apiVersion": "serving.knative.dev/v1", "kind": "Service",
                                                      "name": "message-dumper"}}}
    report = validate_objects(result.objects, schemas)
    assert report.problems == [] and report.unchecked == []


def test_raw_mode_gets_the_logger_env_and_a_uri_subscriber(make_config, schemas):
    logger = {"url": "broker:default", "eventing": {"subscriber": "http://consumer.ml.svc.cluster.local/events"}}
    result = _rendered(make_config, logger, mode="raw", scale={"min": 1}, resources={"requests": {"cpu": "1"}})
    deployment = next(o for o in result.objects if o["kind"] == "Deployment")
    env = {e["name"]: e.get("value") for e in deployment["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["KFUNC_LOGGER_URL"].endswith("/ml/default")
    trigger = result.objects[-1]
    assert trigger["kind"] == "Trigger" and trigger["spec"]["subscriber"] == {"uri": "http://consumer.ml.svc.cluster.local/events"}
    assert not [o for o in result.objects if o["kind"] == "Broker"]
    assert validate_objects([trigger], schemas).problems == []


def test_no_logger_renders_nothing_of_it(make_config):
    config = make_config({"namespace": "ml"})
    service = render(config, load_deploy_settings(config)).objects[0]
    assert not [name for name in env_of(service) if name.startswith("KFUNC_LOGGER")]


def test_http_sink_url_is_passed_as_is(make_config):
    service = _rendered(make_config, {"url": "https://logs.example.com/ingest"}).objects[0]
    assert env_of(service)["KFUNC_LOGGER_URL"] == "https://logs.example.com/ingest"


@pytest.mark.parametrize(("logger", "deploy", "message"), [
    ({"url": "https://x/", "eventing": {"create-broker": True}}, {}, "logger.eventing: needs logger.url: broker:NAME"),
    ({"url": "broker:b"}, {"env": {"KFUNC_LOGGER_URL": "http://x"}}, "KFUNC_LOGGER_URL is reserved (set logger.url instead)"),
])
def test_wiring_mistakes_name_the_field(make_config, logger, deploy, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        _rendered(make_config, logger, **deploy)


def test_deploy_applies_the_broker_first_and_the_trigger_last(kfunc, function_dir, kubeconfig, fake_api, crds_dir):
    path = function_dir({})
    (path / "kfunc.yaml").write_text((path / "kfunc.yaml").read_text() + yaml.safe_dump({"logger": {
        "url": "broker:inference-log", "eventing": {"create-broker": True, "subscriber": "message-dumper"}}}))
    status, out, err = kfunc("deploy", path, "--kubeconfig", kubeconfig, "--crds", crds_dir)
    assert status == 0, err
    assert applies(fake_api, dry_run=True) == applies(fake_api, dry_run=False) == \
        ["inference-log", "mlp", "mlp-payload-log"]
    assert "note:" not in err  # the Eventing CRDs checked the Broker and the Trigger
