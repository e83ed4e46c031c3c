"""The kserve client's gRPC mode works unchanged, on both ports."""
from __future__ import annotations

import json
import subprocess
import sys

from tests.conftest import REPO


def test_kserve_grpc_client(target):
    done = subprocess.run([sys.executable, "-m", "tests.grpc.kserve_client", target], cwd=REPO,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"id": "k1", "outputs": {"x": [[0.0, 1.0], [2.0, 3.0]]}, "ready": True}
