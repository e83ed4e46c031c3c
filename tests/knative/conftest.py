"""Fixtures for the Knative deploy tests: function configs, the shared CRDs, a fake API server."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from .fake_apiserver import FakeApiServer
from functions.config import FunctionConfig
from functions.schema import parse
from knative.kube import Kube


def _config(deploy: dict | None = None, **top) -> FunctionConfig:
    data = {"name": "mlp", "version": "1", "model": {"uri": "s3://models/mlp"},
            "runtime": {"workers": 2, "threads": 4}, "deploy": {"image": "registry.local/mlp:1", **(deploy or {})}}
    data.update(top)
    return parse(FunctionConfig, data, "")


@pytest.fixture
def make_config():
    """``make_config(deploy, **top)``: a parsed kfunc.yaml for function ``mlp`` (2 workers x 4 threads)."""
    return _config


@pytest.fixture
def fake_api(crd_documents: list[dict]):
    """A fake API server with the shared CRDs installed (Knative Serving, Eventing, Istio, KEDA)."""
    server = FakeApiServer(crds=crd_documents).start()
    server.configmaps[("knative-serving", "config-features")] = {}
    yield server
    server.stop()


@pytest.fixture
def kube(fake_api: FakeApiServer) -> Kube:
    return Kube.for_host(fake_api.url)


@pytest.fixture
def function_dir(tmp_path: Path):
    """Write ``kfunc.yaml`` (function ``mlp``) with a ``deploy:`` section; returns the directory."""
    def write(deploy: dict | None = None) -> Path:
        config = {"name": "mlp", "version": "1", "model": {"uri": "s3://models/mlp"},
                  "deploy": {"image": "registry.local/mlp:1", **(deploy or {})}}
        (tmp_path / "kfunc.yaml").write_text(yaml.safe_dump(config))
        return tmp_path
    return write
