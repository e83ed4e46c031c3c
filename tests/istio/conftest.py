"""Fixtures for the traffic tests: the shared CRDs and a fake Kubernetes API server."""
from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import write_kubeconfig
from tests.knative.fake_apiserver import FakeApiServer

COLOR_FUNCTION = Path(__file__).resolve().parent / "funcs" / "color"


@pytest.fixture
def fake_cluster(crd_documents: list[dict]):
    """A fake API server that serves the shared CRDs, so applies are validated as against a real cluster."""
    server = FakeApiServer(ready_after=0.0, crds=crd_documents).start()
    for version in ("blue", "green"):  # the Knative Services the routes send traffic to
        server.add({"apiVersion": "serving.knative.dev/v1", "kind": "Service", "metadata": {"name": f"fn-{version}"}})
    yield server
    server.stop()


@pytest.fixture
def kubeconfig(tmp_path: Path, fake_cluster: FakeApiServer) -> str:
    return write_kubeconfig(tmp_path, fake_cluster.url)
