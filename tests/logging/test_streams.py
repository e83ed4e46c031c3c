"""Streamed answers are logged as they went out: the response event's data is the bytes the client
received (SSE or JSON lines, with their content type), at most ``logger.batch.max-bytes`` of them
(then ``truncated``), what was sent before a client left (HTTP/1.1), and a
latency that covers the stream. Generators of tests/runtime (``stream``) and tests/generative
(``words``, the tiny LM), served by ``kfunc run`` with a logger, answer real clients (requests,
httpx, openai)."""
from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Iterator

import httpx
import openai
import pytest
import requests
from cloudevents.http import CloudEvent

from tests.conftest import function_dir
from tests.generative.conftest import FUNCS, TINYLM, lm_dir  # noqa: F401  (lm_dir: the tiny LM, built locally)
from tests.logging.conftest import with_logger
from tests.logging.receiver import Receiver
from tests.logging.test_events import REQUEST, RESPONSE

BOUND = 2048  # logger.batch.max-bytes below: the most of a streamed answer an event keeps
LOGGER = {"batch": {"max-bytes": "2Ki"}}


@pytest.fixture(scope="module")
def sink() -> Iterator[Receiver]:
    receiver = Receiver()
    yield receiver
    receiver.stop()


@pytest.fixture(scope="module")
def logged(serve_module, sink, tmp_path_factory):
    """``logged(function_dir, env={}, logger=LOGGER)``: that function served with the logger, one worker."""

    def start(source: Path, env: dict | None = None, logger: dict = LOGGER):
        function = with_logger(source, tmp_path_factory.mktemp("func") / source.name, logger)
        return serve_module(function, "--workers", "1", env={"KFUNC_LOGGER_URL": sink.url, **(env or {})})

    return start


@pytest.fixture(scope="module")
def stream(logged):
    return logged(function_dir("stream"))


@pytest.fixture(scope="module")
def words(logged):
    return logged(FUNCS / "words")


def events_of(sink: Receiver, request_id: str, timeout: float = 30) -> dict[str, CloudEvent]:
    """The request's two events by type, once both have come."""
    deadline = time.monotonic() + timeout
    while True:
        with sink.lock:
            found = {event["type"]: event for event in sink.events if event["id"] == request_id}
        if len(found) == 2:
            return found
        assert time.monotonic() < deadline, f"{request_id}: {sorted(found)} logged, expected both events"
        time.sleep(0.05)


def assert_logged_as_received(sink: Receiver, request_id: str, received: bytes, content_type: str) -> CloudEvent:
    response = events_of(sink, request_id)[RESPONSE]
    assert received and response.get_data() == received
    assert response["datacontenttype"] == content_type and int(response["statuscode"]) == 200
    assert "truncated" not in response.get_attributes()
    return response


@pytest.mark.parametrize("path, body, accept, content_type", [
    ("/", {"count": 5}, "text/event-stream", "text/event-stream"),
    ("/", {"count": 4, "mode": "async"}, "application/json", "application/x-ndjson"),
    ("/v1/models/stream:predict", {"instances": [1, 2, 3]}, "application/json", "application/x-ndjson"),
])
def test_a_generators_stream_is_logged_as_the_client_received_it(stream, sink, path, body, accept, content_type):
    request_id = f"gen-{path}-{content_type}-{body.get('mode')}"
    answer = requests.post(stream.url + path, json=body, timeout=30,
                           headers={"Accept": accept, "X-Request-Id": request_id})
    assert answer.status_code == 200 and answer.headers["Content-Type"] == content_type
    assert_logged_as_received(sink, request_id, answer.content, content_type)
    assert json.loads(events_of(sink, request_id)[REQUEST].get_data()) == body


def test_a_failure_mid_stream_is_logged_with_its_error_event(stream, sink):
    answer = requests.post(stream.url + "/", json={"mode": "fail"}, timeout=30,
                           headers={"Accept": "text/event-stream", "X-Request-Id": "fails-mid-stream"})
    assert b"event: error" in answer.content
    assert_logged_as_received(sink, "fails-mid-stream", answer.content, "text/event-stream")


def test_a_stream_over_the_bound_is_logged_in_part_and_marked_truncated(stream, sink):
    answer = requests.post(stream.url + "/", json={"count": 400}, headers={"X-Request-Id": "long"}, timeout=30)
    assert len(answer.content) > 2 * BOUND and len(answer.content.splitlines()) == 400
    response = events_of(sink, "long")[RESPONSE]
    assert response.get_data() == answer.content[:BOUND]
    assert response["truncated"] == "true"  # a CloudEvents Boolean, as a binary-mode header writes it


def test_in_json_batches_a_stream_is_its_bytes_and_truncated_a_boolean(logged, sink):
    server = logged(function_dir("stream"), logger={**LOGGER, "encoding": "batch"})
    lines = requests.post(server.url + "/", json={"count": 3}, headers={"X-Request-Id": "batched"}, timeout=30)
    long = requests.post(server.url + "/", json={"count": 400}, headers={"X-Request-Id": "batched-long"}, timeout=30)
    whole = events_of(sink, "batched")[RESPONSE]  # JSON lines: no JSON document, so data_base64
    assert whole.get_data() == lines.content and "truncated" not in whole.get_attributes()
    cut = events_of(sink, "batched-long")[RESPONSE]
    assert cut.get_data() == long.content[:BOUND] and cut["truncated"] is True


@pytest.mark.parametrize("mode", ["slow", "slow-async"])
def test_a_client_that_leaves_mid_stream_has_what_was_sent_logged(stream, sink, tmp_path, mode):
    body = {"mode": mode, "closed_marker": str(tmp_path / "closed")}
    with httpx.stream("POST", stream.url + "/", json=body, headers={"X-Request-Id": f"leaves-{mode}"},
                      timeout=30) as answer:
        first = next(answer.iter_lines()).encode()
    # leaving the block closed the connection mid-stream: the client has gone
    response = events_of(sink, f"leaves-{mode}")[RESPONSE]
    lines = response.get_data().splitlines()
    assert lines[0] == first and [json.loads(line) for line in lines] == [{"token": i} for i in range(len(lines))]
    assert int(response["statuscode"]) == 200 and "truncated" not in response.get_attributes()


def test_an_openai_completion_stream_is_logged_as_sent_and_its_latency_covers_it(words, sink, tmp_path):
    client = openai.OpenAI(base_url=words.url + "/openai/v1", api_key="unused", max_retries=0)
    slow = str(tmp_path / "closed")  # a path as the prompt: the words come 50 ms apart
    with client.completions.with_streaming_response.create(
            model="words", prompt=slow, max_tokens=8, stream=True, extra_headers={"X-Request-Id": "completion"}) as raw:
        received = b"".join(raw.iter_bytes())
    assert received.endswith(b"data: [DONE]\n\n")
    response = assert_logged_as_received(sink, "completion", received, "text/event-stream")
    assert float(response["latencyms"]) >= 8 * 50


def test_an_oip_generate_stream_is_logged_as_sent(words, sink):
    answer = requests.post(words.url + "/v2/models/words/generate_stream", timeout=30, headers={"X-Request-Id": "oip"},
                           json={"text_input": "hi", "parameters": {"max_tokens": 5}})
    assert answer.status_code == 200
    assert_logged_as_received(sink, "oip", answer.content, "text/event-stream")


def test_a_chat_completion_stream_is_logged_as_sent(logged, sink, lm_dir):  # noqa: F811
    tinylm = logged(TINYLM, env={"KFUNC_MODEL_URI": str(lm_dir)})
    client = openai.OpenAI(base_url=tinylm.url + "/openai/v1", api_key="unused", max_retries=0)
    with client.chat.completions.with_streaming_response.create(
            model="tinylm", messages=[{"role": "user", "content": "the lazy dog"}], max_tokens=6, temperature=0,
            stream=True, extra_headers={"X-Request-Id": "chat"}) as raw:
        received = b"".join(raw.iter_bytes())
    assert b'"chat.completion.chunk"' in received
    assert_logged_as_received(sink, "chat", received, "text/event-stream")
