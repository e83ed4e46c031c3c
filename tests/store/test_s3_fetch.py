"""Fetching models from a real S3 server over loopback HTTP."""
from __future__ import annotations

import os
import socket

import pytest
from botocore.exceptions import ClientError

from functions.store import StoreError, StoreSettings, StoreUnavailable, UnsafeObjectKey, fetch_model, retry_with_backoff
from functions.store.s3 import store_error

from .conftest import read_tree, start_s3_server

BIG = os.urandom(3 * 2**20 + 123)
MODEL = {"config.json": b'{"hidden": 4}', "tokenizer/vocab.txt": b"a\nb\n", "weights.bin": BIG}


def upload_model(s3, prefix: str = "bert/") -> str:
    bucket = s3.new_bucket()
    s3.put(bucket, {prefix + name: body for name, body in MODEL.items()})
    s3.put(bucket, {"bert-large/other.bin": b"not part of the model"})
    return bucket


def test_cold_fetch_gets_every_object_under_the_prefix_and_splits_large_ones(s3, aws_env, store, cache):
    bucket = upload_model(s3)
    s3.start_log()

    model_dir = fetch_model(f"s3://{bucket}/bert/", store, cache)

    assert read_tree(model_dir) == MODEL
    etag = s3.client().head_object(Bucket=bucket, Key="bert/weights.bin")["ETag"]
    ranged = s3.gets(bucket, "bert/weights.bin")
    assert len(ranged) == 7 and all(r.range.startswith("bytes=") and r.if_match == etag for r in ranged)
    assert len(s3.gets(bucket, "bert/config.json")) == 1
    assert not [r for r in s3.requests() if "bert-large" in r.path]
    assert model_dir.is_relative_to(cache.root)


def test_prefix_without_trailing_slash_and_single_object(s3, aws_env, store, cache):
    bucket = upload_model(s3)

    assert read_tree(fetch_model(f"s3://{bucket}/bert", store, cache)) == MODEL
    single = fetch_model(f"s3://{bucket}/bert/config.json", store, cache)
    assert read_tree(single) == {"config.json": MODEL["config.json"]}


def test_second_fetch_reuses_the_cache_and_a_changed_object_is_fetched_again(s3, aws_env, store, cache):
    bucket = upload_model(s3)
    uri = f"s3://{bucket}/bert/"
    first = fetch_model(uri, store, cache)
    s3.start_log()

    assert fetch_model(uri, store, cache) == first
    assert not [r for r in s3.requests() if r.method == "GET" and "/bert/" in r.path]

    s3.put(bucket, {"bert/config.json": b'{"hidden": 8}'})
    changed = fetch_model(uri, store, cache)
    assert changed != first
    assert (changed / "config.json").read_bytes() == b'{"hidden": 8}'


def test_warm_cache_starts_with_the_store_stopped(tmp_path, aws_env, monkeypatch, cache):
    own = start_s3_server(tmp_path)
    monkeypatch.delenv("AWS_ENDPOINT_URL")
    settings = StoreSettings(endpoint_url=own.url, max_attempts=1, connect_timeout=1)
    bucket = upload_model(own)
    uri = f"s3://{bucket}/bert/"
    warm = fetch_model(uri, settings, cache)
    own.stop()

    assert fetch_model(uri, settings, cache) == warm
    assert read_tree(warm) == MODEL


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_unreachable_store_on_first_start_is_a_503_retried_with_bounded_backoff(aws_env, monkeypatch, cache):
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{closed_port()}")
    settings = StoreSettings(max_attempts=1, connect_timeout=1)
    calls, sleeps = [], []

    def fetch():
        calls.append(1)
        return fetch_model("s3://models/bert/", settings, cache)

    with pytest.raises(StoreUnavailable) as caught:
        retry_with_backoff(fetch, attempts=3, base_delay=0.01, max_delay=0.02, sleep=sleeps.append)

    assert caught.value.status == 503
    assert "s3://models/bert/" in str(caught.value) and "no cached copy" in str(caught.value)
    assert len(calls) == 3 and len(sleeps) == 2


def test_missing_bucket_is_a_permanent_error_not_an_outage(aws_env, store, cache):
    with pytest.raises(StoreError) as caught:
        fetch_model("s3://no-such-bucket-kfunc/bert/", store, cache)
    assert not isinstance(caught.value, StoreUnavailable)
    assert "bucket" in str(caught.value)


def test_empty_prefix_names_the_uri(s3, aws_env, store, cache):
    bucket = s3.new_bucket()
    with pytest.raises(StoreError, match=f"s3://{bucket}/nothing/: no objects found"):
        fetch_model(f"s3://{bucket}/nothing/", store, cache)


@pytest.mark.parametrize("key", ["bert/evil/../../../outside.txt", "bert//etc/passwd", "bert/./x"])
def test_traversal_keys_are_refused_before_anything_is_written(s3, aws_env, store, cache, tmp_path, key):
    bucket = upload_model(s3)
    s3.put(bucket, {key: b"owned"})
    s3.start_log()

    with pytest.raises(UnsafeObjectKey, match="unsafe") as caught:
        fetch_model(f"s3://{bucket}/bert/", store, cache)

    assert repr(key) in str(caught.value)
    assert not [r for r in s3.requests() if r.method == "GET" and "/bert/" in r.path]
    assert not [p for p in tmp_path.rglob("*") if p.name in ("outside.txt", "passwd", "x")]


def test_an_object_replaced_during_a_ranged_download_is_a_retryable_outage(s3, aws_env):
    bucket = upload_model(s3)
    client = s3.client()
    with pytest.raises(ClientError) as caught:
        client.get_object(Bucket=bucket, Key="bert/weights.bin", Range="bytes=0-9", IfMatch='"an-older-etag"')

    error = store_error(caught.value, f"s3://{bucket}/bert/")
    assert isinstance(error, StoreUnavailable) and "changed during the download" in str(error)


def test_a_repository_model_listed_as_changed_starts_from_its_cached_copy_while_the_store_is_down(
        tmp_path, aws_env, monkeypatch, cache):
    """A load with the files a repository listing gave (no listing of its own): a download the store
    cannot serve falls back to the copy fetched before, as a listing that fails does."""
    from functions.registry.sources import list_repository

    own = start_s3_server(tmp_path)
    monkeypatch.delenv("AWS_ENDPOINT_URL")
    settings = StoreSettings(endpoint_url=own.url, max_attempts=1, connect_timeout=1)
    bucket = upload_model(own, prefix="models/bert/")
    (source,) = list_repository(f"s3://{bucket}/models/", settings, strict=False)
    warm = fetch_model(source.uri, settings, cache, files=list(source.files))
    own.put(bucket, {"models/bert/config.json": b'{"hidden": 8}'})
    (changed,) = list_repository(f"s3://{bucket}/models/", settings, strict=False)
    own.stop()

    assert fetch_model(changed.uri, settings, cache, files=list(changed.files)) == warm
    assert read_tree(warm) == MODEL
