"""The queue between the request path and the senders: bounded in events and bytes, batches taken
whole or after their delay, nothing lost between close and drain."""
from __future__ import annotations

import threading
import time
from datetime import datetime, timezone

from functions.payload_log.capture import PayloadLogger
from functions.payload_log.config import logger_settings
from functions.payload_log.events import EVENT_OVERHEAD, REQUEST_TYPE, LogEvent, rfc3339
from functions.payload_log.queue import EventQueue


def _event(size: int = 0, name: str = "e") -> LogEvent:
    return LogEvent({"id": name, "type": REQUEST_TYPE}, b"x" * size, time.time())


def test_full_in_events_or_bytes_refuses_without_waiting():
    by_count = EventQueue(max_events=2, max_bytes=10**9)
    assert [by_count.offer([_event()]) for _ in range(3)] == [1, 1, 0]
    by_bytes = EventQueue(max_events=100, max_bytes=3 * (1000 + EVENT_OVERHEAD))
    assert [by_bytes.offer([_event(1000)]) for _ in range(4)] == [1, 1, 1, 0]
    assert by_bytes.bytes == 3 * (1000 + EVENT_OVERHEAD)
    partly = EventQueue(max_events=3, max_bytes=10**9)
    assert partly.offer([_event(name=name) for name in "abcd"]) == 3  # what fits, in order
    assert [e.id for e in partly.drain()] == ["a", "b", "c"]
    started = time.monotonic()
    assert not by_bytes.put(_event(1000), timeout=0.2)  # on-full: block gives up after its timeout
    assert time.monotonic() - started >= 0.2


def test_put_waits_for_room_a_sender_makes():
    queue = EventQueue(max_events=1, max_bytes=10**9)
    queue.offer([_event(name="first")])
    threading.Timer(0.1, lambda: queue.take(1, 10**9, 0, 1)).start()
    assert queue.put(_event(name="second"), timeout=5)
    assert [e.id for e in queue.drain()] == ["second"]


def test_take_lingers_for_a_full_batch_or_its_delay():
    queue = EventQueue(max_events=100, max_bytes=10**9, wake_every=3)
    queue.offer([_event(name="a")])
    started = time.monotonic()
    assert [e.id for e in queue.take(3, 10**9, linger=0.3, wait=1)] == ["a"]
    assert time.monotonic() - started >= 0.25  # waited for batch-mates until the delay
    for name in "bcd":
        queue.offer([_event(name=name)])
    assert [e.id for e in queue.take(3, 10**9, linger=5, wait=1)] == ["b", "c", "d"]  # full: at once


def test_close_wakes_takers_and_refuses_new_events():
    queue = EventQueue(max_events=10, max_bytes=10**9)
    taken = []
    taker = threading.Thread(target=lambda: taken.append(queue.take(1, 10**9, 0, 10)))
    taker.start()
    queue.close()
    taker.join(2)
    assert taken == [[]] and not queue.offer([_event()])


def test_a_backlog_sender_takes_only_full_batches_and_what_is_left_at_close():
    queue = EventQueue(max_events=100, max_bytes=10**9, wake_every=3)
    for name in "ab":
        queue.offer([_event(name=name)])
    assert queue.take(3, 10**9, linger=5, wait=0.05, full_only=True) == []  # one sender keeps up: stay idle
    taken = []
    helper = threading.Thread(target=lambda: taken.append(queue.take(3, 10**9, linger=5, wait=5, full_only=True)))
    helper.start()
    queue.offer([_event(name="c")])  # a full batch is waiting: the helper wakes for it
    helper.join(2)
    assert [e.id for e in taken[0]] == ["a", "b", "c"]
    queue.offer([_event(name="d")])
    queue.close()
    assert [e.id for e in queue.take(3, 10**9, linger=5, wait=1, full_only=True)] == ["d"]


def test_a_full_queue_that_drops_is_not_given_work():
    """``on-full: drop``: once the queue is full, a request's events are counted dropped without the
    sink preparing (encoding) them: a dead sink costs the request path next to nothing."""
    prepared = []

    def prepare(event: LogEvent) -> LogEvent:
        prepared.append(event.id)
        return event

    settings = logger_settings({"url": "http://sink.invalid/", "mode": "all"}, {})
    logger = PayloadLogger(settings, EventQueue(max_events=2, max_bytes=10**9), block_timeout=1, prepare=prepare)
    for name in ("a", "b"):
        logger.queue_events([_event(name=name)])
    logger.queue_events([_event(name="c"), _event(name="d")])
    assert prepared == ["a", "b"] and len(logger.queue) == 2


def test_event_times_are_rfc3339_with_microseconds():
    moment = datetime(2026, 12, 2, 21, 50, 11, 123456, tzinfo=timezone.utc)
    assert rfc3339(moment.timestamp()) == moment.isoformat() == "2026-12-02T21:50:11.123456+00:00"
    whole = datetime(2026, 12, 2, 21, 50, 12, tzinfo=timezone.utc)
    assert rfc3339(whole.timestamp()) == "2026-12-02T21:50:12.000000+00:00"
    assert datetime.fromisoformat(rfc3339(whole.timestamp())) == whole
    for seconds in (1747684737.8522174, 1700000000.9999996):  # rounded as datetime rounds, carry included
        assert rfc3339(seconds) == datetime.fromtimestamp(seconds, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f+00:00")
