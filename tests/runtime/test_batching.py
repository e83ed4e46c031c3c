"""Micro-batching over real HTTP: concurrent requests stacked into one predictor call and split
back, each keeping its own answer and its own error; a lone request is not held back."""
from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests

from tests.conftest import Server, function_dir, scrape

V2 = "/v2/models/batcher/infer"
CLOUDEVENT = {"ce-id": "1", "ce-source": "/test", "ce-specversion": "1.0", "ce-type": "test.rows"}


@pytest.fixture(scope="module")
def batcher(serve_module) -> Server:
    return serve_module(function_dir("batcher"))  # one worker, 16 threads, max_latency_ms 60000


def post(server: Server, protocol: str, rows: list[list[float]]) -> tuple[int, Any]:
    """Send ``rows`` over a protocol; (status, the output rows or the error message)."""
    if protocol == "v2":
        body = {"inputs": [{"name": "x", "datatype": "FP32", "shape": [len(rows), len(rows[0])],
                            "data": [v for row in rows for v in row]}]}
        answer = requests.post(server.url + V2, json=body, timeout=20)
        if answer.status_code != 200:
            return answer.status_code, answer.json()["error"]
        output = answer.json()["outputs"][0]
        return 200, [output["data"][i:i + 4] for i in range(0, len(output["data"]), 4)]
    if protocol == "v1":
        answer = requests.post(server.url + "/v1/models/batcher:predict", json={"instances": rows}, timeout=20)
    else:
        answer = requests.post(server.url + "/", json={"instances": rows}, headers=CLOUDEVENT, timeout=20)
    body = answer.json()
    return answer.status_code, body["predictions"] if answer.status_code == 200 else body["error"]


def behind_a_blocker(server: Server, protocol: str, requests_rows: list[list[list[float]]]) -> list[tuple[int, Any]]:
    """One request that holds the predictor for half a second, then the others at once while it runs."""
    with ThreadPoolExecutor(len(requests_rows) + 1) as pool:
        blocker = pool.submit(post, server, "v2", [[99.0, 0.0]])
        time.sleep(0.2)
        answers = list(pool.map(lambda rows: post(server, protocol, rows), requests_rows))
        assert blocker.result()[0] == 200
    return answers


def test_a_lone_request_runs_at_once(batcher):
    """max_latency_ms is a minute, but nothing else is on its way: the request is not held back."""
    status, rows = post(batcher, "v2", [[1.0, 2.0]])
    assert status == 200 and [row[:3] for row in rows] == [[2.0, 4.0, 1.0]]


@pytest.mark.parametrize("protocol", ["v2", "v1", "cloudevent"])
def test_concurrent_requests_are_stacked_into_one_call_and_split_back(batcher, protocol):
    sent = [[[float(i), float(i + j)] for j in range(i % 3 + 1)] for i in range(8)]  # 1 to 3 rows each
    answers = behind_a_blocker(batcher, protocol, sent)
    for rows, (status, got) in zip(sent, answers):
        assert status == 200, got
        assert [row[:2] for row in got] == [[2 * a, 2 * b] for a, b in rows]  # its own rows, in order
    stacked = [got[0][2] for _, got in answers]
    assert sum(count > 1 for count in stacked) >= len(sent) // 2, stacked  # they queued, then ran together


def test_a_failing_request_does_not_fail_its_batch_mates(batcher):
    sent = [[[float(i), 1.0]] for i in range(6)] + [[[-1.0, 0.0]]]
    answers = behind_a_blocker(batcher, "v2", sent)
    assert answers[-1] == (500, "ValueError: negative input")
    for rows, (status, got) in zip(sent[:-1], answers[:-1]):
        assert status == 200 and got[0][:2] == [2 * rows[0][0], 2.0]


def test_a_failure_no_request_caused_fails_the_batch_once_instead_of_re_running_each(batcher):
    before = scrape(batcher.url).value("kfunc_batch_failures_total", rerun="no") or 0
    sent = [[[float(i), 1.0]] for i in range(6)] + [[[77.0, 0.0]]]
    answers = behind_a_blocker(batcher, "v2", sent)
    failed = [got for status, got in answers if status == 500]
    assert failed and all(got.startswith("OSError: the feature store is down (in a batch of") for got in failed)
    assert scrape(batcher.url).value("kfunc_batch_failures_total", rerun="no") == before + 1
    assert batcher.log().count("predictor failed on a batch of") == before + 1  # logged once, not per request


def test_a_request_that_does_not_stack_fails_alone_with_400(batcher):
    sent = [[[float(i), 1.0]] for i in range(6)] + [[[1.0, 2.0, 3.0]]]
    answers = behind_a_blocker(batcher, "v2", sent)
    assert answers[-1] == (400, "input 'x' has shape [1, 3] but the model expects [-1, 2]")
    assert all(status == 200 for status, _ in answers[:-1])


def test_batch_sizes_are_in_the_metrics(batcher):
    behind_a_blocker(batcher, "v2", [[[1.0, 1.0]]] * 6)
    found = scrape(batcher.url)
    calls, stacked = found.value("kfunc_batch_size_count"), found.value("kfunc_batch_size_sum")
    assert 0 < calls < stacked  # fewer predictor calls than requests: some carried several
    assert found.value("kfunc_batch_size_bucket", le="1.0") < calls
