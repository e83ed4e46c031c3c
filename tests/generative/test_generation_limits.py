"""What a generating server does under load and when clients leave: 429 with Retry-After past its
running and queued bounds, generation stopped when a streaming client goes, the generation metrics."""
from __future__ import annotations

import json
import select
import socket
import time

import openai
import requests
import pytest

from tests.conftest import scrape
from tests.generative.conftest import FUNCS

LONG = {"model": "tinylm", "prompt": "the quick brown", "max_tokens": 4000, "temperature": 0, "stream": True}


def open_streams(url: str, count: int, request: dict = LONG) -> list[socket.socket]:
    """``count`` streamed completions (long ones by default), each on its own connection, not read yet."""
    host, port = url.removeprefix("http://").split(":")
    body = json.dumps(request).encode()
    head = (f"POST /openai/v1/completions HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode()
    sockets = []
    for _ in range(count):
        sock = socket.create_connection((host, int(port)))
        sock.sendall(head + body)
        sockets.append(sock)
    return sockets


def status_lines(sockets: list[socket.socket], until: int, timeout: float = 30) -> list[str]:
    """Each answer's status line, "" for those that have not started: read until ``until`` of
    them have (or ``timeout`` passes; the machine may be slow)."""
    lines = {sock: "" for sock in sockets}
    deadline = time.monotonic() + timeout
    while sum(1 for line in lines.values() if line) < until and time.monotonic() < deadline:
        readable, _, _ = select.select([s for s, line in lines.items() if not line], [], [], 0.1)
        for sock in readable:
            lines[sock] = sock.recv(65536).split(b"\r\n")[0].decode()
    return [lines[sock] for sock in sockets]


def wait_closed(marker, message: str, timeout: float = 10) -> None:
    """Until the generator has written ``marker`` (its ``finally`` ran), else fail with ``message``."""
    deadline = time.monotonic() + timeout
    while not marker.exists():
        assert time.monotonic() < deadline, message
        time.sleep(0.05)


def wait_until(condition, message: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, message
        time.sleep(0.05)


def close(sockets: list[socket.socket]) -> None:
    for sock in sockets:
        sock.close()  # the client leaves: its sequence stops


def test_past_running_and_queued_bounds_requests_get_429_with_retry_after(tinylm):
    sockets = open_streams(tinylm.url, 16)  # the function takes 8 running and 4 queued
    try:
        answers = status_lines(sockets, until=12)
        assert answers.count("HTTP/1.1 200 OK") == 8, answers  # generating: streaming their tokens
        assert answers.count("HTTP/1.1 429 Too Many Requests") == 4, answers
        assert answers.count("") == 4, answers  # queued: their answer starts with their first token
        client = openai.OpenAI(base_url=tinylm.url + "/openai/v1", api_key="unused", max_retries=0)
        with pytest.raises(openai.RateLimitError) as caught:
            client.completions.create(model="tinylm", prompt="x", max_tokens=1)
        assert caught.value.response.headers["Retry-After"] == "1"
        assert caught.value.body["type"] == "rate_limit_error" and caught.value.body["code"] == "rate_limit_exceeded"
    finally:
        close(sockets)


def test_clients_that_leave_free_their_places(tinylm):
    """Each round's 8 sequences would generate for many seconds; closed, the next 8 get in."""
    for _ in range(3):
        deadline = time.monotonic() + 8
        while True:
            sockets = open_streams(tinylm.url, 8)
            answers = status_lines(sockets, until=8)
            if answers == ["HTTP/1.1 200 OK"] * 8:
                break
            close(sockets)
            assert time.monotonic() < deadline, f"the places of clients that left stay taken: {answers}"
            time.sleep(0.5)
        close(sockets)


def test_clients_that_leave_before_their_whole_answer_stop_their_generation(tinylm):
    """8 non-streamed completions that would run for many seconds take every running place; their
    clients leave: they stop there (their tokens are not computed) and a new request is served."""
    before = scrape(tinylm.url)
    started = before.value("kfunc_time_to_first_token_seconds_count")
    sockets = open_streams(tinylm.url, 8, {**LONG, "stream": False})
    try:
        wait_until(lambda: scrape(tinylm.url).value("kfunc_time_to_first_token_seconds_count") >= started + 8,
                   "the 8 completions did not all start generating")
    finally:
        close(sockets)
    client = openai.OpenAI(base_url=tinylm.url + "/openai/v1", api_key="unused", max_retries=0, timeout=30)
    answer = client.completions.create(model="tinylm", prompt="x", max_tokens=2, temperature=0)
    assert answer.choices[0].finish_reason == "length"
    tokens = "kfunc_generated_tokens_total"
    generated = scrape(tinylm.url).value(tokens) - before.value(tokens)
    assert generated < 8 * LONG["max_tokens"] / 2, f"the completions ran on after their clients left ({generated} tokens)"


@pytest.fixture(scope="module")
def words(serve_module):
    return serve_module(FUNCS / "words", "--workers", "1")


def test_a_plain_generator_of_text_is_served_and_stopped_when_its_client_leaves(words, tmp_path):
    client = openai.OpenAI(base_url=words.url + "/openai/v1", api_key="unused", max_retries=0)
    answer = client.completions.create(model="words", prompt="hello", max_tokens=3)
    assert answer.choices[0].text == "w0 w1 w2 " and answer.usage.completion_tokens == 3
    assert answer.usage.prompt_tokens == 0  # no tokenizer to count with
    marker = tmp_path / "closed"
    [stream] = open_streams(words.url, 1, {"model": "words", "prompt": str(marker), "max_tokens": 500, "stream": True})
    assert status_lines([stream], until=1) == ["HTTP/1.1 200 OK"]
    close([stream])
    wait_closed(marker, "the generator kept running after its client left")


def test_a_generator_without_a_chat_template_refuses_chat(words):
    answer = requests.post(words.url + "/openai/v1/chat/completions", timeout=10,
                           json={"model": "words", "messages": [{"role": "user", "content": "hi"}]})
    assert answer.status_code == 400 and "no chat template" in answer.json()["error"]["message"]
    v2 = requests.post(words.url + "/v2/models/words/infer", json={"inputs": []}, timeout=10)
    assert v2.status_code == 404 and "/v2/models/words/generate" in v2.json()["error"]


def test_a_generator_without_a_tokenizer_refuses_token_ids(words):
    answer = requests.post(words.url + "/openai/v1/completions", json={"model": "words", "prompt": [1, 2]}, timeout=10)
    error = answer.json()["error"]
    assert answer.status_code == 400 and error["param"] == "prompt" and "send the text" in error["message"]


def test_generation_metrics_count_tokens_and_time_the_first_chunk(words):
    before = scrape(words.url).value("kfunc_generated_tokens_total")
    requests.post(words.url + "/openai/v1/completions", timeout=10,
                  json={"model": "words", "prompt": "x", "max_tokens": 4, "stream": True}).raise_for_status()
    found = scrape(words.url)
    assert found.value("kfunc_generated_tokens_total") == before + 4
    assert found.value("kfunc_first_chunk_delay_seconds_count") >= 1
    assert found.value("kfunc_time_to_first_token_seconds_count") >= 1
