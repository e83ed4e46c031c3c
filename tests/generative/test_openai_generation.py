"""Completions and chat completions of the tiny test LM through the official ``openai`` client on
a real ``kfunc run``: greedy answers equal in-process ``model.generate``, streamed or not."""
from __future__ import annotations

import concurrent.futures
import json

import httpx
import openai
import pytest
import requests

PROMPTS = ["the quick brown", "a small model", "serving tokens one"]


@pytest.fixture(scope="module")
def client(tinylm):
    return openai.OpenAI(base_url=tinylm.url + "/openai/v1", api_key="unused", max_retries=0)


def expected_text(reference, prompt: str, max_tokens: int) -> str:
    tokenizer = reference.tokenizer
    return tokenizer.decode(reference(tokenizer(prompt)["input_ids"], max_tokens), skip_special_tokens=True)


def test_greedy_completion_equals_model_generate(client, reference):
    answer = client.completions.create(model="tinylm", prompt=PROMPTS[0], max_tokens=12, temperature=0)
    assert answer.choices[0].text == expected_text(reference, PROMPTS[0], 12)
    assert answer.choices[0].finish_reason == "length" and answer.object == "text_completion"
    prompt_tokens = len(reference.tokenizer(PROMPTS[0])["input_ids"])
    assert (answer.usage.prompt_tokens, answer.usage.completion_tokens) == (prompt_tokens, 12)


def test_a_streamed_completion_is_the_same_text_in_chunks(client, reference):
    chunks = list(client.completions.create(model="tinylm", prompt=PROMPTS[1], max_tokens=10, temperature=0,
                                            stream=True, stream_options={"include_usage": True}))
    text = "".join(c.choices[0].text for c in chunks if c.choices)
    assert text == expected_text(reference, PROMPTS[1], 10) and len(chunks) > 3
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "length"
    assert chunks[-1].usage.completion_tokens == 10 and chunks[-1].choices == []


def test_the_stream_is_server_sent_events_ending_with_done(tinylm):
    body = {"model": "tinylm", "prompt": PROMPTS[0], "max_tokens": 3, "temperature": 0, "stream": True}
    answer = requests.post(tinylm.url + "/openai/v1/completions", json=body, timeout=30)
    assert answer.headers["Content-Type"] == "text/event-stream"
    events = [e for e in answer.text.split("\n\n") if e]
    assert all(e.startswith("data: ") for e in events) and events[-1] == "data: [DONE]"


def test_chat_uses_the_tokenizers_chat_template(client, reference):
    messages = [{"role": "system", "content": "be brief"}, {"role": "user", "content": "the lazy dog"}]
    answer = client.chat.completions.create(model="tinylm", messages=messages, max_tokens=8, temperature=0)
    tokenizer = reference.tokenizer
    text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    assert text.startswith("<|system|>be brief\n<|user|>the lazy dog\n<|assistant|>")
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    assert answer.choices[0].message.content == tokenizer.decode(reference(ids, 8), skip_special_tokens=True)
    assert answer.choices[0].message.role == "assistant" and answer.usage.prompt_tokens == len(ids)
    streamed = client.chat.completions.create(model="tinylm", messages=messages, max_tokens=8, temperature=0, stream=True)
    chunks = list(streamed)
    assert chunks[0].choices[0].delta.role == "assistant"
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == answer.choices[0].message.content


def test_stop_strings_cut_the_text_and_finish_with_stop(client):
    whole = client.completions.create(model="tinylm", prompt=PROMPTS[2], max_tokens=20, temperature=0).choices[0].text
    stop = whole[5:8]
    cut = client.completions.create(model="tinylm", prompt=PROMPTS[2], max_tokens=20, temperature=0, stop=[stop])
    assert cut.choices[0].text == whole[:whole.index(stop)] and cut.choices[0].finish_reason == "stop"
    streamed = client.completions.create(model="tinylm", prompt=PROMPTS[2], max_tokens=20, temperature=0,
                                         stop=stop, stream=True)
    assert "".join(c.choices[0].text for c in streamed) == whole[:whole.index(stop)]


def test_seeded_sampling_repeats_and_n_gives_several_choices(client):
    ask = dict(model="tinylm", prompt=PROMPTS[0], max_tokens=10, temperature=1.0, top_p=0.9, seed=7)
    first, again = client.completions.create(**ask), client.completions.create(**ask)
    assert first.choices[0].text == again.choices[0].text
    several = client.completions.create(**ask, n=3)
    assert [c.index for c in several.choices] == [0, 1, 2] and several.choices[0].text == first.choices[0].text
    assert several.usage.completion_tokens == 30
    streamed = list(client.completions.create(**ask, n=2, stream=True))
    for index in (0, 1):
        text = "".join(c.choices[0].text for c in streamed if c.choices[0].index == index)
        assert text == several.choices[index].text


def test_logprobs_come_with_the_tokens(client):
    answer = client.completions.create(model="tinylm", prompt=PROMPTS[0], max_tokens=5, temperature=0, logprobs=0)
    logprobs = answer.choices[0].logprobs
    assert len(logprobs.tokens) == len(logprobs.token_logprobs) == 5
    assert all(lp <= 0 for lp in logprobs.token_logprobs)
    chat = client.chat.completions.create(model="tinylm", messages=[{"role": "user", "content": "fox"}],
                                          max_tokens=4, temperature=0, logprobs=True)
    assert len(chat.choices[0].logprobs.content) == 4


def test_top_logprobs_are_the_likeliest_tokens_streamed_or_not(client):
    ask = dict(model="tinylm", messages=[{"role": "user", "content": "fox"}], max_tokens=4, temperature=0,
               logprobs=True, top_logprobs=3)
    whole = client.chat.completions.create(**ask).choices[0].logprobs.content
    assert len(whole) == 4
    for entry in whole:
        likeliest = [t.logprob for t in entry.top_logprobs]
        assert len(likeliest) == 3 and likeliest == sorted(likeliest, reverse=True)
        assert likeliest[0] == pytest.approx(entry.logprob)  # greedy: the chosen token is the likeliest
        assert all(t.bytes == list(t.token.encode()) for t in entry.top_logprobs)
    chunks = list(client.chat.completions.create(**ask, stream=True))
    streamed = [e for c in chunks if c.choices and c.choices[0].logprobs for e in c.choices[0].logprobs.content]
    assert [[t.logprob for t in e.top_logprobs] for e in streamed] == \
        [pytest.approx([t.logprob for t in e.top_logprobs]) for e in whole]
    completion = client.completions.create(model="tinylm", prompt=PROMPTS[0], max_tokens=5, temperature=0, logprobs=2)
    logprobs = completion.choices[0].logprobs
    assert len(logprobs.top_logprobs) == 5
    for chosen, likeliest in zip(logprobs.token_logprobs, logprobs.top_logprobs):
        assert 1 <= len(likeliest) <= 2 and max(likeliest.values()) == pytest.approx(chosen)
    streamed = client.completions.create(model="tinylm", prompt=PROMPTS[0], max_tokens=5, temperature=0, logprobs=2,
                                         stream=True)
    assert [top for c in streamed if c.choices[0].logprobs for top in c.choices[0].logprobs.top_logprobs] == \
        [pytest.approx(top) for top in logprobs.top_logprobs]


@pytest.mark.parametrize("arguments, param", [
    ({"top_logprobs": 2}, "top_logprobs"),  # without logprobs: true
    ({"logprobs": True, "top_logprobs": 21}, "top_logprobs"),
])
def test_bad_top_logprobs_are_refused(tinylm, arguments, param):
    body = {"model": "tinylm", "messages": [{"role": "user", "content": "x"}], **arguments}
    answer = requests.post(tinylm.url + "/openai/v1/chat/completions", json=body, timeout=10)
    assert answer.status_code == 400 and answer.json()["error"]["param"] == param


def test_a_prompt_of_token_ids_is_answered_as_its_text(client, reference):
    ids = [reference.tokenizer(p)["input_ids"] for p in PROMPTS[:2]]
    ask = dict(model="tinylm", max_tokens=8, temperature=0)
    by_text = client.completions.create(prompt=PROMPTS[:2], **ask)
    one = client.completions.create(prompt=ids[0], **ask)
    assert one.choices[0].text == by_text.choices[0].text == expected_text(reference, PROMPTS[0], 8)
    assert one.usage.prompt_tokens == len(ids[0])
    several = client.completions.create(prompt=ids, **ask)
    assert [c.text for c in several.choices] == [c.text for c in by_text.choices]
    assert several.usage.prompt_tokens == by_text.usage.prompt_tokens
    size = len(reference.tokenizer)
    with pytest.raises(openai.BadRequestError) as caught:
        client.completions.create(prompt=[[5], [7, size]], **ask)
    assert caught.value.body["param"] == "prompt" and f"token id {size} is not in the vocabulary" in \
        caught.value.body["message"]


def test_unknown_paths_and_methods_of_the_openai_api_are_openai_errors(client, tinylm):
    with pytest.raises(openai.NotFoundError) as caught:
        client.post("/foo", cast_to=httpx.Response, body={})
    assert caught.value.body["type"] == "invalid_request_error" and caught.value.body["code"] is None
    assert caught.value.body["message"].startswith("POST /openai/v1/foo: not found")
    with pytest.raises(openai.APIStatusError) as caught:
        client.get("/chat/completions", cast_to=httpx.Response)
    assert caught.value.status_code == 405 and caught.value.response.headers["Allow"] == "OPTIONS, POST"
    assert "GET is not allowed" in caught.value.body["message"] and caught.value.body["param"] is None
    other = requests.post(tinylm.url + "/v2/foo", timeout=10)  # other paths keep kfunc's own shape
    assert other.status_code == 404 and isinstance(other.json()["error"], str)


def test_concurrent_requests_share_the_batch_and_each_get_their_own_answer(client, reference):
    asks = [p for p in PROMPTS for _ in range(3)]
    with concurrent.futures.ThreadPoolExecutor(len(asks)) as pool:
        answers = list(pool.map(lambda p: client.completions.create(model="tinylm", prompt=p, max_tokens=16,
                                                                    temperature=0).choices[0].text, asks))
    assert answers == [expected_text(reference, p, 16) for p in asks]


@pytest.mark.parametrize("arguments, param", [
    ({"prompt": "x", "temperature": 3}, "temperature"),
    ({"prompt": "x", "max_tokens": 0}, "max_tokens"),
    ({"prompt": "x", "n": 0}, "n"),
    ({"prompt": "x", "stop": ["a", "b", "c", "d", "e"]}, "stop"),
    ({"prompt": 5}, "prompt"),
    ({"prompt": [1, "a"]}, "prompt"),
    ({"prompt": [[]]}, "prompt"),
    ({"prompt": [-1]}, "prompt"),
    ({"prompt": "x", "logprobs": 6}, "logprobs"),
    ({"prompt": "x", "top_p": 0}, "top_p"),
])
def test_bad_parameters_are_openai_errors_naming_them(tinylm, arguments, param):
    answer = requests.post(tinylm.url + "/openai/v1/completions", json={"model": "tinylm", **arguments}, timeout=10)
    assert answer.status_code == 400 and answer.json()["error"]["param"] == param


def test_unknown_models_and_embeddings_of_a_generator_are_404(client):
    with pytest.raises(openai.NotFoundError):
        client.completions.create(model="gpt-4", prompt="x")
    with pytest.raises(openai.NotFoundError) as caught:
        client.embeddings.create(model="tinylm", input="x")
    assert "does not serve embeddings" in caught.value.body["message"]


def test_oip_generate_and_generate_stream(tinylm, reference):
    body = {"text_input": PROMPTS[0], "parameters": {"max_tokens": 9, "temperature": 0}}
    answer = requests.post(tinylm.url + "/v2/models/tinylm/generate", json=body, timeout=30).json()
    assert answer["text_output"] == expected_text(reference, PROMPTS[0], 9)
    assert answer["model_name"] == "tinylm" and answer["finish_reason"] == "length"
    streamed = requests.post(tinylm.url + "/v2/models/tinylm/generate_stream", json=body, timeout=30)
    chunks = [json.loads(e[len("data: "):]) for e in streamed.content.decode().split("\n\n") if e]
    assert "".join(c["text_output"] for c in chunks) == answer["text_output"]
    bad = requests.post(tinylm.url + "/v2/models/tinylm/generate", json={"parameters": {}}, timeout=10)
    assert bad.status_code == 400 and "text_input" in bad.json()["error"]
