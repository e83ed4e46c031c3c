"""Streamed answers (a handler returning a generator) over HTTP/1.1 chunks, h2c DATA frames and
Server-Sent Events, stopped when the client leaves; and a function's own flask routes."""
from __future__ import annotations

import json
import time

import httpx
import pytest
import requests

from tests.conftest import REPO, function_dir


@pytest.fixture(scope="module")
def stream(serve_module):
    return serve_module(function_dir("stream"))


def test_a_generator_streams_json_lines_chunked(stream):
    answer = requests.post(stream.url + "/", json={"count": 3}, stream=True)
    assert answer.status_code == 200 and answer.headers["Content-Type"] == "application/x-ndjson"
    assert answer.headers["Transfer-Encoding"] == "chunked" and "Content-Length" not in answer.headers
    assert [json.loads(line) for line in answer.iter_lines()] == [{"token": "t0"}, {"token": "t1"}, {"token": "t2"}]


def test_an_async_generator_streams_too(stream):
    answer = requests.post(stream.url + "/", json={"count": 2, "mode": "async"})
    assert [json.loads(line) for line in answer.text.splitlines()] == [{"token": "a0"}, {"token": "a1"}]


def test_a_client_accepting_event_streams_gets_server_sent_events(stream):
    answer = requests.post(stream.url + "/", json={"count": 2}, headers={"Accept": "text/event-stream"})
    assert answer.headers["Content-Type"] == "text/event-stream"
    assert answer.text == 'data: {"token":"t0"}\n\ndata: {"token":"t1"}\n\n'


def test_v1_predict_streams(stream):
    answer = requests.post(stream.url + "/v1/models/stream:predict", json={"instances": [1, 2]})
    assert answer.status_code == 200 and len(answer.text.splitlines()) == 2


def test_streams_go_as_data_frames_over_h2c(stream):
    with httpx.Client(http1=False, http2=True) as client:  # prior knowledge on the same port
        with client.stream("POST", stream.url + "/", json={"count": 50}) as answer:
            assert answer.http_version == "HTTP/2"
            lines = [json.loads(line) for line in answer.iter_lines()]
    assert lines[-1] == {"token": "t49"} and len(lines) == 50


def test_a_failure_mid_stream_ends_it_with_an_error_event(stream):
    answer = requests.post(stream.url + "/", json={"mode": "fail"}, headers={"Accept": "text/event-stream"})
    assert answer.text.startswith('data: {"token":"first"}\n\n')
    assert 'event: error\ndata: {"error":"RuntimeError: the model broke mid-stream"}' in answer.text
    assert "the model broke mid-stream" in stream.log()


def test_a_client_that_leaves_stops_the_generator(stream, tmp_path):
    marker = tmp_path / "closed"
    answer = requests.post(stream.url + "/", json={"mode": "slow", "closed_marker": str(marker)}, stream=True)
    lines = answer.iter_lines()
    assert json.loads(next(lines)) == {"token": 0}
    answer.raw.connection.sock.close()  # the client goes away mid-stream
    answer.close()
    deadline = time.monotonic() + 10
    while not marker.exists():
        assert time.monotonic() < deadline, "the generator kept running after its client left"
        time.sleep(0.05)


@pytest.fixture(scope="module")
def mlp(serve_module):
    return serve_module(REPO / "examples" / "mlp")


def test_a_functions_own_flask_routes_are_served_on_the_same_port(mlp):
    answer = requests.get(mlp.url + "/info")
    assert answer.status_code == 200 and answer.json()["parameters"] == 64 * 256 + 256 + 256 * 256 + 256 + 256 * 10 + 10
    assert requests.get(mlp.url + "/v2/health/ready").json() == {"ready": True}  # the protocols keep their paths


def test_an_unknown_path_beside_the_functions_routes_is_a_json_404(mlp):
    answer = requests.get(mlp.url + "/nope")
    assert answer.status_code == 404 and "not found" in answer.json()["error"].lower()



def test_paths_under_openai_stay_the_servers_beside_the_functions_routes(mlp):
    answer = requests.get(mlp.url + "/openai/v1/nope")  # OpenAI's 404, not the function's flask one
    assert answer.status_code == 404 and answer.json()["error"]["type"] == "invalid_request_error"
