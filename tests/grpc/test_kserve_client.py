"""The kserve client's gRPC mode works unchanged, on both ports."""
from __future__ import annotations

from tests.conftest import kserve_client


def test_kserve_grpc_client(target):
    answer = kserve_client("grpc_echo", target=target)
    assert answer == {"id": "k1", "outputs": {"x": [[0.0, 1.0], [2.0, 3.0]]}, "ready": True}
