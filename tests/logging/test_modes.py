"""What is logged: ``mode`` (the environment's over the file's), ``sample-rate`` (both events of a
request or neither), and ``on-full: block`` (requests wait for room instead of dropping)."""
from __future__ import annotations

import time

import requests

from tests.conftest import scrape
from tests.logging.test_events import REQUEST, RESPONSE, ROW, _v2


def _send(url: str, count: int, prefix: str = "r") -> None:
    for index in range(count):
        answer = requests.post(f"{url}/v2/models/scorer/infer", data=_v2(ROW), timeout=30,
                               headers={"Content-Type": "application/json", "X-Request-Id": f"{prefix}{index}"})
        assert answer.status_code == 200


def test_the_environment_mode_wins_over_the_file(serve, receiver, logged_function):
    server = serve(logged_function({"mode": "request"}), "--workers", "1",
                   env={"KFUNC_LOGGER_URL": receiver.url, "KFUNC_LOGGER_MODE": "response"})
    _send(server.url, 3)
    receiver.wait_for(3)
    time.sleep(0.3)
    assert {e["type"] for e in receiver.events} == {RESPONSE} and len(receiver.events) == 3


def test_sampling_logs_both_events_of_a_request_or_neither(serve, receiver, logged_function):
    server = serve(logged_function({"sample-rate": 0.5}), "--workers", "1", env={"KFUNC_LOGGER_URL": receiver.url})
    _send(server.url, 40)
    time.sleep(1)
    queued = scrape(server.url).value("kfunc_logger_events_total", outcome="queued")
    events = receiver.wait_for(int(queued))
    by_id: dict[str, set[str]] = {}
    for event in events:
        by_id.setdefault(event["id"], set()).add(event["type"])
    assert all(types == {REQUEST, RESPONSE} for types in by_id.values())
    assert 5 <= len(by_id) <= 35  # about half of 40 (binomial: outside this, one run in ten million)


def test_on_full_block_waits_for_room_and_drops_nothing(serve, receiver, logged_function):
    receiver.delay = 0.05
    server = serve(logged_function({"on-full": "block", "queue": {"max-events": 2}, "max-in-flight": 1}),
                   "--workers", "1", env={"KFUNC_LOGGER_URL": receiver.url})
    started = time.monotonic()
    _send(server.url, 10)
    assert time.monotonic() - started > 0.3  # the requests waited for the slow sink: back-pressure
    events = receiver.wait_for(20)
    assert sorted({e["id"] for e in events}) == sorted(f"r{i}" for i in range(10))
    assert scrape(server.url).value("kfunc_logger_events_total", outcome="dropped") == 0
