"""The engine's schedule, on a stepper that records its steps (no model): requests that arrive
while a prefill runs are prefilled before the next decoding step (a burst's first tokens do not
wait behind decoding steps), a bounded number of times in a row."""
from __future__ import annotations

import threading

from functions.generation.engine import PREFILLS_IN_A_ROW, Engine, Sequence
from functions.generation.types import Sampling, Token

TWO_TOKENS = Sampling(max_tokens=2, temperature=0)


class RecordingStepper:
    """Each step as ("prefill" | "decode", the prompts' first ids); ``hold`` keeps the first
    prefill running until it is set."""

    max_length = 1000

    def __init__(self) -> None:
        self.steps: list[tuple[str, list[int]]] = []
        self.hold = threading.Event()
        self.in_first_prefill = threading.Event()

    def prefill(self, sequences: list[Sequence]) -> list[int]:
        if not self.steps:
            self.in_first_prefill.set()
            self.hold.wait(10)
        return self._record("prefill", sequences)

    def decode(self, sequences: list[Sequence]) -> list[int]:
        return self._record("decode", sequences)

    def _record(self, kind: str, sequences: list[Sequence]) -> list[int]:
        for sequence in sequences:
            sequence.state = "cache"
        self.steps.append((kind, [s.ids[0] for s in sequences]))
        return [0] * len(sequences)

    def pick(self, logits: list[int], sequences: list[Sequence]) -> list[Token]:
        return [Token(id=7) for _ in sequences]

    def is_end(self, token_id: int) -> bool:
        return False


def burst(arriving_during_prefill: list[int]) -> list[tuple[str, list[int]]]:
    """One request, then the others while its prefill runs: every step, once all have ended."""
    stepper = RecordingStepper()
    engine = Engine(stepper, max_running=16)
    streams = [engine.submit([1], TWO_TOKENS)]
    assert stepper.in_first_prefill.wait(10)
    streams += [engine.submit([first], TWO_TOKENS) for first in arriving_during_prefill]
    stepper.hold.set()
    for stream in streams:
        assert len(list(stream)) == 2
    return stepper.steps


def test_requests_arriving_during_a_prefill_are_prefilled_before_the_next_decoding_step():
    assert burst([2, 3]) == [("prefill", [1]), ("prefill", [2, 3]), ("decode", [1, 2, 3])]


def test_decoding_waits_for_at_most_a_bounded_number_of_prefills():
    """Every prefill sees a new arrival (the first 8): the decode still comes after the bound."""
    stepper = RecordingStepper()
    stepper.hold.set()
    engine = Engine(stepper, max_running=16)
    record, streams = stepper._record, []

    def prefill_with_an_arrival(sequences):
        if len(streams) < 8:
            streams.append(engine.submit([len(streams) + 2], TWO_TOKENS))  # as if it came in meanwhile
        return record("prefill", sequences)

    stepper.prefill = prefill_with_an_arrival
    first = engine.submit([1], TWO_TOKENS)
    assert len(list(first)) == 2 and all(len(list(stream)) == 2 for stream in streams)
    kinds = [kind for kind, _ in stepper.steps]
    assert kinds[:PREFILLS_IN_A_ROW + 1] == ["prefill"] * PREFILLS_IN_A_ROW + ["decode"]
