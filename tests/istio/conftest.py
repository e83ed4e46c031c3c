"""Fixtures for the traffic tests: the shared CRDs and a fake Kubernetes API server."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pytest
import yaml

from functions.errors import KFuncError
from knative.crd_schema import CrdSchemas
from scaffold import rollout_cmd, traffic_cmd
from tests.knative.fake_apiserver import FakeApiServer

SHARED_CRDS = Path(__file__).resolve().parents[3] / "shared" / "crds"
COLOR_FUNCTION = Path(__file__).resolve().parent / "funcs" / "color"


@pytest.fixture(scope="session")
def crds_dir() -> Path:
    if not SHARED_CRDS.is_dir():
        pytest.skip(f"{SHARED_CRDS} is missing: the CRD checks need the shared Istio and Knative CRDs")
    return SHARED_CRDS


@pytest.fixture(scope="session")
def schemas(crds_dir: Path) -> CrdSchemas:
    return CrdSchemas.from_directory(crds_dir)


@pytest.fixture(scope="session")
def crd_documents(crds_dir: Path) -> list[dict]:
    documents = [d for f in sorted(crds_dir.glob("*.yaml")) for d in yaml.safe_load_all(f.read_text())]
    return [d for d in documents if isinstance(d, dict) and d.get("kind") == "CustomResourceDefinition"]


@pytest.fixture
def fake_cluster(crd_documents: list[dict]):
    """A fake API server that serves the shared CRDs, so applies are validated as against a real cluster."""
    server = FakeApiServer(ready_after=0.0, crds=crd_documents).start()
    yield server
    server.stop()


@pytest.fixture
def kubeconfig(tmp_path: Path, fake_cluster: FakeApiServer) -> str:
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "fake",
        "clusters": [{"name": "fake", "cluster": {"server": fake_cluster.url}}],
        "users": [{"name": "dev", "user": {"token": "not-a-secret"}}],
        "contexts": [{"name": "fake", "context": {"cluster": "fake", "user": "dev", "namespace": "ml"}}],
    }))
    return str(path)


@pytest.fixture
def kfunc(capsys):
    """Run ``kfunc ARGS...`` as the CLI does (a KFuncError exits 2); returns (status, stdout, stderr)."""
    parser = argparse.ArgumentParser(prog="kfunc")
    subparsers = parser.add_subparsers(required=True)
    traffic_cmd.add_parser(subparsers)
    rollout_cmd.add_parser(subparsers)

    def run(*argv: str) -> tuple[int, str, str]:
        args = parser.parse_args([str(a) for a in argv])
        try:
            status = args.func(args)
        except KFuncError as exc:
            print(exc, file=sys.stderr)
            status = 2
        out, err = capsys.readouterr()
        return status, out, err
    return run
