"""Tests for {{name}}: they call the handlers directly on a tiny random model built offline
(kfunc's functions.generation.testing), no server and no network needed. Run: pytest"""
import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import func  # noqa: E402
from functions import Context, Prompt, Sampling  # noqa: E402
from functions.generation.testing import tiny_causal_lm  # noqa: E402


@pytest.fixture(scope="module")
def lm(tmp_path_factory):
    return func.setup(tiny_causal_lm(tmp_path_factory.mktemp("model")))


def tokens(lm, text: str, sampling: Sampling) -> list[int]:
    prompt = Prompt(text, lm.tokenizer(text)["input_ids"])
    context = Context(request_id="test", protocol="openai", sampling=sampling)
    return [token.id for token in func.generate(lm, prompt, context)]


def test_greedy_tokens_equal_model_generate(lm):
    ids = lm.tokenizer("the quick brown", return_tensors="pt")
    with torch.inference_mode():
        expected = lm.model.generate(**ids, max_new_tokens=8, do_sample=False)[0, ids["input_ids"].shape[1]:]
    assert tokens(lm, "the quick brown", Sampling(max_tokens=8, temperature=0)) == expected.tolist()


def test_the_same_seed_samples_the_same_tokens(lm):
    sampling = Sampling(max_tokens=8, temperature=1.0, top_p=0.9, seed=3)
    assert tokens(lm, "a small model", sampling) == tokens(lm, "a small model", sampling)


def test_a_missing_model_directory_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="config.json"):
        func.setup(tmp_path)
