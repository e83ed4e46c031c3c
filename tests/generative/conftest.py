"""The tiny test LM, built once per session, and a ``kfunc run`` serving it."""
from __future__ import annotations

from pathlib import Path

import pytest

from functions.generation.testing import tiny_causal_lm
from tests.conftest import REPO

FUNCS = Path(__file__).resolve().parent / "funcs"
TINYLM = REPO / "scripts" / "bench" / "funcs" / "tinylm"  # the benchmark's function, served by the tests too


@pytest.fixture(scope="session")
def lm_dir(tmp_path_factory) -> Path:
    return tiny_causal_lm(tmp_path_factory.mktemp("tinylm"))


@pytest.fixture(scope="session")
def reference(lm_dir):
    """``greedy(prompt_ids, n)``: what in-process ``model.generate`` continues a prompt with."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(lm_dir)
    model = AutoModelForCausalLM.from_pretrained(lm_dir).eval()

    def greedy(ids: list[int], max_new_tokens: int) -> list[int]:
        with torch.inference_mode():
            out = model.generate(torch.tensor([ids]), attention_mask=torch.ones(1, len(ids), dtype=torch.long),
                                 max_new_tokens=max_new_tokens, do_sample=False)
        return out[0, len(ids):].tolist()

    greedy.tokenizer = tokenizer
    return greedy


@pytest.fixture(scope="module")
def tinylm(serve_module, lm_dir):
    return serve_module(TINYLM, "--workers", "1", env={"KFUNC_MODEL_URI": str(lm_dir)})
