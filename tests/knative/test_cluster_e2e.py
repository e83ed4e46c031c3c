"""End to end on a real cluster (scripts/cluster-up.sh): deploy, reach the URL, describe, delete.

Runs only with ``KFUNC_E2E_CLUSTER=1 pytest -m cluster tests/knative/test_cluster_e2e.py`` and an
image of ``examples/mlp`` the cluster can pull, named by ``KFUNC_E2E_IMAGE`` (for kind:
``kfunc build examples/mlp --image dev.local/mlp:e2e && kind load docker-image dev.local/mlp:e2e --name kfunc``).
Requests go to the ingress at ``KFUNC_E2E_INGRESS`` (default http://127.0.0.1:80) with the Service's Host.
"""
from __future__ import annotations

import argparse
import os
import shutil
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests
import yaml

from scaffold import deploy_cmd

pytestmark = [
    pytest.mark.cluster,
    pytest.mark.skipif(os.environ.get("KFUNC_E2E_CLUSTER") != "1", reason="needs a cluster: KFUNC_E2E_CLUSTER=1 (scripts/cluster-up.sh)"),
]
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "mlp"


def kfunc(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="kfunc")
    deploy_cmd.add_parser(parser.add_subparsers(required=True))
    args = parser.parse_args([str(a) for a in argv])
    return args.func(args)


def test_deploy_reach_describe_delete(tmp_path, capsys):
    image = os.environ.get("KFUNC_E2E_IMAGE")
    if not image:
        pytest.skip("set KFUNC_E2E_IMAGE to an image of examples/mlp the cluster can pull")
    function = tmp_path / "mlp"
    shutil.copytree(EXAMPLE, function)
    config = yaml.safe_load((function / "kfunc.yaml").read_text())
    config["deploy"] = {"image": image, "namespace": "default", "scale": {"min": 0, "max": 2},
                        "cache": {"volume": "emptyDir", "size-limit": "1Gi"}}
    (function / "kfunc.yaml").write_text(yaml.safe_dump(config))

    assert kfunc("deploy", function, "--timeout", "600") == 0
    url = capsys.readouterr().out.strip()
    assert url.startswith("http://mlp.default.")
    try:
        ingress = os.environ.get("KFUNC_E2E_INGRESS", "http://127.0.0.1:80")  # kind's port mapping, no DNS needed
        answer = requests.get(f"{ingress}/v2/health/ready", headers={"Host": urlsplit(url).netloc}, timeout=120)
        assert answer.status_code == 200 and answer.json() == {"ready": True}
        assert kfunc("describe", "mlp", "-n", "default") == 0
        assert "Ready=True" in capsys.readouterr().out
    finally:
        assert kfunc("delete", "mlp", "-n", "default") == 0
