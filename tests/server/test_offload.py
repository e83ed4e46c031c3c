"""Where a sync handler runs (``functions.server.blocking.Offload``): inline on the event loop
only when measured cheap, on the pool when it blocks, and not pinned to the pool by being preempted."""
from __future__ import annotations

import asyncio
import threading
import time

from functions.server.blocking import Offload

BUDGET_S = 0.001


def where_calls_run(offload: Offload, handler, calls: int) -> list[str]:
    """For each call, ``"loop"`` if ``handler`` ran on the event loop's thread, else ``"pool"``."""
    async def serve() -> list[str]:
        loop_thread = threading.current_thread()
        places = []
        for _ in range(calls):
            ran_on = await offload.run("route", lambda: (handler(), threading.current_thread())[1], True)
            places.append("loop" if ran_on is loop_thread else "pool")
        return places
    return asyncio.run(serve())


def spin(seconds: float) -> None:
    """Use the CPU for ``seconds`` (wall time), as a busy model would."""
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass


def test_a_cheap_handler_runs_inline_after_its_first_window_of_calls():
    places = where_calls_run(Offload(BUDGET_S, window=16), lambda: None, 40)
    assert places[:16] == ["pool"] * 16
    assert places[16:] == ["loop"] * 24


def test_a_handler_that_waits_on_io_stays_on_the_pool_after_three_blocking_inline_calls():
    offload = Offload(BUDGET_S, window=4)
    places = where_calls_run(offload, lambda: time.sleep(0.01), 60)
    assert offload.pinned("route")
    assert places.count("loop") == 3  # each blocked the loop once; then never again
    assert places[-20:] == ["pool"] * 20


def test_a_costly_handler_goes_back_to_the_pool_without_being_pinned():
    offload = Offload(BUDGET_S, window=4)
    calls = iter([0.0] * 4 + [0.005] + [0.0] * 40)
    places = where_calls_run(offload, lambda: spin(next(calls)), 45)
    assert places[4] == "loop" and places[5:9] == ["pool"] * 4  # the slow call sends a window to the pool
    assert not offload.pinned("route")
    assert places[-20:] == ["loop"] * 20


def test_handlers_that_may_not_inline_always_run_on_the_pool():
    async def serve() -> set[bool]:
        offload, loop_thread = Offload(BUDGET_S, window=2), threading.current_thread()
        return {await offload.run("route", lambda: threading.current_thread() is loop_thread, False) for _ in range(10)}
    assert asyncio.run(serve()) == {False}


def test_waiting_for_the_gil_while_another_thread_runs_is_not_a_strike():
    """A payload-log sender (any busy Python thread) holds the GIL for a switch interval at a time;
    the loop waiting for it is not a handler blocking on I/O, so the route stays inline."""
    stop = threading.Event()

    def busy() -> None:
        while not stop.is_set():
            spin(0.001)

    spinner = threading.Thread(target=busy, daemon=True)
    offload = Offload(BUDGET_S, window=4)
    spinner.start()
    try:
        places = where_calls_run(offload, lambda: spin(0.0001), 200)
    finally:
        stop.set()
        spinner.join()
    assert not offload.pinned("route")
    assert places[-20:].count("loop") >= 15


def test_scattered_blocking_calls_do_not_pin_a_route_but_frequent_ones_do():
    """A wait now and then (a GIL holder that was itself off the CPU) is not a handler doing I/O;
    one blocking call in four is."""
    def every(n: int):
        calls = iter(range(10**6))
        return lambda: time.sleep(0.01) if next(calls) % n == n - 1 else None

    rare = Offload(BUDGET_S, window=4, horizon=64)
    where_calls_run(rare, every(100), 420)
    assert not rare.pinned("route")
    frequent = Offload(BUDGET_S, window=4, horizon=64)
    places = where_calls_run(frequent, every(4), 60)
    assert frequent.pinned("route") and places[-20:] == ["pool"] * 20


def test_a_garbage_collection_during_a_cheap_call_does_not_send_it_to_the_pool():
    """A collection runs in whichever call allocates when it is due: not the handler's own cost."""
    import gc

    garbage = [[i] for i in range(300_000)]  # enough tracked objects for a full collection to take a while
    collect_on = {6}
    calls = iter(range(10**6))
    offload = Offload(BUDGET_S, window=4)
    started = time.perf_counter()
    gc.collect()
    assert time.perf_counter() - started > BUDGET_S  # the collection alone is over the budget
    places = where_calls_run(offload, lambda: gc.collect() if next(calls) in collect_on else None, 12)
    del garbage
    assert places[4:] == ["loop"] * 8


def test_a_route_measured_only_now_and_then_still_leaves_the_loop_when_it_turns_slow():
    """Once calm, a route's calls are timed on the wall clock and only sampled for CPU time; a call
    over the budget has the next one measured, so a handler that turns slow leaves the loop at once."""
    offload = Offload(BUDGET_S, window=4, calm=8, sample=8)
    calls = iter([0.0] * 40 + [0.005] * 20)
    places = where_calls_run(offload, lambda: spin(next(calls)), 60)
    assert places[4:40] == ["loop"] * 36
    assert places[40:42] == ["loop"] * 2  # the first slow call, unmeasured; the next, measured
    assert places[42:46] == ["pool"] * 4


def test_a_calm_route_whose_handler_starts_blocking_is_pinned_to_the_pool():
    offload = Offload(BUDGET_S, window=4, calm=8, sample=8)
    calls = iter(range(10**6))
    places = where_calls_run(offload, lambda: time.sleep(0.01) if next(calls) >= 40 else None, 70)
    assert offload.pinned("route")
    assert places[40:].count("loop") == 4  # one unmeasured; then every call is measured: three strikes
    assert places[-20:] == ["pool"] * 20


def test_a_calm_route_whose_every_other_call_is_slow_leaves_the_loop():
    """A slow call that was not measured has the next ones measured: one of them catches the next slow call."""
    offload = Offload(BUDGET_S, window=4, calm=8, sample=8)
    calls = iter(range(10**6))
    places = where_calls_run(offload, lambda: spin(0.005 if (n := next(calls)) >= 40 and n % 2 else 0.0), 60)
    slow_on_the_loop = [i for i in range(40, 60) if i % 2 and places[i] == "loop"]
    assert len(slow_on_the_loop) <= 2 and "pool" in places[40:]
