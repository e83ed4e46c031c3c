"""Where the continuous-batching engine runs: in a thread of the serving process (CUDA) or in a
forked process of its own (the CPU default). Both give in-process ``model.generate``'s tokens to
streams batched together; a dead engine process fails its open streams and the next request
starts a new one."""
from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from functions.errors import GenerationFailed
from functions.generation import CausalLM
from functions.generation.types import Sampling

PROMPTS = ["the quick brown", "a small model", "serving tokens one by one"]
GREEDY = Sampling(max_tokens=12, temperature=0)


def children() -> set[int]:
    """This process's child processes (Linux: each thread's ``children`` list)."""
    found = set()
    for task in Path("/proc/self/task").iterdir():
        found |= {int(pid) for pid in (task / "children").read_text().split()}
    return found


@pytest.mark.parametrize("engine", ["thread", "process"])
def test_streams_batched_together_give_greedy_tokens(lm_dir, reference, engine):
    lm = CausalLM.from_pretrained(lm_dir, engine=engine)
    ids = [lm.tokenizer(prompt)["input_ids"] for prompt in PROMPTS]
    streams = [lm.stream(prompt, GREEDY) for prompt in PROMPTS]  # queued together: one batch
    assert [[token.id for token in stream] for stream in streams] == [reference(i, 12) for i in ids]


def test_cpu_model_runs_its_engine_in_a_child_process(lm_dir):
    before = children()
    lm = CausalLM.from_pretrained(lm_dir)
    assert len(list(lm.stream("the quick brown", GREEDY))) == 12
    assert len(children() - before) == 1


def test_a_dead_engine_process_fails_its_streams_and_the_next_request_starts_another(lm_dir, reference):
    before = children()
    lm = CausalLM.from_pretrained(lm_dir, engine="process")
    stream = lm.stream("the quick brown", Sampling(max_tokens=100_000, temperature=0))
    next(stream)
    (engine,) = children() - before
    os.kill(engine, signal.SIGKILL)
    deadline = time.monotonic() + 30
    with pytest.raises(GenerationFailed, match="killed by signal 9"):
        while time.monotonic() < deadline:
            next(stream)
    ids = lm.tokenizer("a small model")["input_ids"]
    assert [token.id for token in lm.stream("a small model", GREEDY)] == reference(ids, 12)
    assert len(children() - before) == 1  # a new engine, the dead one reaped


def test_sequences_that_leave_and_join_keep_their_tokens_and_the_cache_stays_as_long_as_the_longest(lm_dir, reference):
    """The stepper (no engine): a long sequence leaves while others join; each keeps its greedy
    tokens, and the batch's KV cache is cut back to its longest member once the long one is gone."""
    from functions.generation.engine import Sequence

    lm = CausalLM.from_pretrained(lm_dir, engine="thread")
    prompts = ["serving tokens one by one, the server streams them as they come", "a small", "the lazy dog"]
    sequences = [Sequence(lm.tokenizer(p)["input_ids"], GREEDY, None) for p in prompts]
    long, short, joiner = sequences

    def step(batch: list[Sequence], prefill: bool = False) -> None:
        logits = lm.prefill(batch) if prefill else lm.decode(batch)
        for sequence, token in zip(batch, lm.pick(logits, batch)):
            sequence.ids.append(token.id)

    step([long, short], prefill=True)
    for _ in range(3):
        step([long, short])
    long.state = None  # it ends: its row leaves the batch
    step([joiner], prefill=True)
    for _ in range(4):
        step([short, joiner])
    assert lm._cache.layers[0].keys.shape[2] == max(len(short.ids), len(joiner.ids)) - 1
    for sequence in (long, short, joiner):
        produced = sequence.ids[sequence.prompt_length:]
        assert produced == reference(sequence.ids[:sequence.prompt_length], len(produced))


def test_a_model_on_cuda_runs_its_engine_in_a_thread_one_on_cpu_in_a_process():
    import torch

    from functions.generation.causal_lm import default_engine

    assert default_engine(torch.device("cuda", 0)) == "thread"  # a CUDA context does not survive fork
    assert default_engine(torch.device("cpu")) == "process"
