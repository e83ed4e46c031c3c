"""Cache integrity and eviction: damaged entries are detected and refetched; LRU keeps the size bound."""
from __future__ import annotations

import contextlib
import dataclasses
import gc
import logging
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from functions.store import CacheSettings, StoreError, fetch_model

from .conftest import read_tree

MODEL = {"config.json": b'{"layers": 2}', "weights.bin": os.urandom(256 * 1024)}


def upload(s3, prefix: str, model: dict[str, bytes] = MODEL) -> str:
    bucket = s3.new_bucket()
    s3.put(bucket, {f"{prefix}/{name}": body for name, body in model.items()})
    return f"s3://{bucket}/{prefix}/"


def test_truncated_file_is_detected_evicted_and_fetched_again(s3, aws_env, store, cache, caplog):
    uri = upload(s3, "m")
    model_dir = fetch_model(uri, store, cache)
    with open(model_dir / "weights.bin", "r+b") as handle:
        handle.truncate(1000)
    s3.start_log()

    with caplog.at_level(logging.WARNING, logger="kfunc.store"):
        again = fetch_model(uri, store, cache)

    assert read_tree(again) == MODEL
    assert "weights.bin is 1000 bytes" in caplog.text
    assert [r.method for r in s3.requests() if r.path.endswith("/m/weights.bin")] == ["GET"]


def test_same_size_corruption_needs_the_sha256_check(s3, aws_env, store, cache):
    uri = upload(s3, "m")
    model_dir = fetch_model(uri, store, cache)
    flipped = bytearray(MODEL["weights.bin"])
    flipped[100] ^= 0xFF
    (model_dir / "weights.bin").write_bytes(bytes(flipped))

    assert (fetch_model(uri, store, cache) / "weights.bin").read_bytes() == bytes(flipped)
    verified = fetch_model(uri, store, dataclasses.replace(cache, verify="sha256"))
    assert (verified / "weights.bin").read_bytes() == MODEL["weights.bin"]


def test_symlink_planted_in_an_entry_is_not_served(s3, aws_env, store, cache, tmp_path):
    uri = upload(s3, "m")
    model_dir = fetch_model(uri, store, cache)
    secret = tmp_path / "secret.txt"
    secret.write_bytes(b"x" * len(MODEL["config.json"]))
    (model_dir / "config.json").unlink()
    (model_dir / "config.json").symlink_to(secret)

    again = fetch_model(uri, store, cache)

    assert not (again / "config.json").is_symlink()
    assert read_tree(again) == MODEL
    assert secret.exists()


def test_leftovers_of_a_crashed_download_are_cleared(s3, aws_env, store, cache):
    uri = upload(s3, "m")
    model_dir = fetch_model(uri, store, cache)
    key = model_dir.parent.name
    entry = model_dir.parent
    os.rename(entry, cache.root / "tmp" / f"{key}.4242.deadbeef")

    again = fetch_model(uri, store, cache)

    assert read_tree(again) == MODEL
    assert list((cache.root / "tmp").iterdir()) == []


def test_least_recently_used_entry_is_evicted_to_stay_under_max_size(s3, aws_env, store, tmp_path):
    one_model = sum(map(len, MODEL.values()))
    bounded = CacheSettings(dir=str(tmp_path / "cache"), max_size=str(int(one_model * 2.5)))
    first, second, third = (upload(s3, name) for name in ("a", "b", "c"))
    first_dir = fetch_model(first, store, bounded)
    second_dir = fetch_model(second, store, bounded)
    fetch_model(first, store, bounded)  # first is now the most recently used

    third_dir = fetch_model(third, store, bounded)

    assert first_dir.exists() and third_dir.exists()
    assert not second_dir.parent.exists()
    s3.start_log()
    assert read_tree(fetch_model(second, store, bounded)) == MODEL
    assert [r for r in s3.requests() if r.method == "GET" and r.path.endswith("/b/weights.bin")]


@contextlib.contextmanager
def read_only_view(path: Path) -> Iterator[Path]:
    """``path`` as a process without write access sees it: chmod for users, a read-only bind mount for root."""
    if os.geteuid() != 0:
        dirs = [path, *(p for p in path.rglob("*") if p.is_dir())]
        for directory in dirs:
            directory.chmod(0o555)
        try:
            yield path
        finally:
            for directory in dirs:
                directory.chmod(0o755)
        return
    view = path.parent / "read-only-view"
    view.mkdir()
    if subprocess.run(["mount", "--bind", "-o", "ro", str(path), str(view)], capture_output=True).returncode:
        pytest.skip("cannot make a read-only bind mount here")
    try:
        yield view
    finally:
        subprocess.run(["umount", str(view)], check=True)


def test_read_only_warm_cache_serves_its_entries_and_names_the_fix_for_others(s3, aws_env, store, cache):
    warmed, cold = upload(s3, "warm"), upload(s3, "cold")
    fetch_model(warmed, store, cache)

    with read_only_view(cache.root) as view:
        read_only = CacheSettings(dir=str(view))
        assert read_tree(fetch_model(warmed, store, read_only)) == MODEL
        with pytest.raises(StoreError, match="read-only cache .* warm it with 'kfunc cache warm'"):
            fetch_model(cold, store, read_only)


@contextlib.contextmanager
def gc_paused() -> Iterator[list[str]]:
    """The cyclic GC off, as ``kfunc run`` starts; yields the list of collections that run anyway."""
    collections: list[str] = []

    def record(phase: str, info: dict) -> None:
        if phase == "start":
            collections.append(f"generation {info['generation']}")

    gc.disable()
    gc.callbacks.append(record)
    try:
        yield collections
    finally:
        gc.callbacks.remove(record)
        gc.enable()


def test_a_download_in_a_start_with_the_gc_paused_still_collects_its_garbage(s3, aws_env, store, cache):
    """A long download would otherwise pile up cyclic garbage for its whole length."""
    uri = upload(s3, "m", {"weights.bin": os.urandom(3 * 1024 * 1024)})  # six ranged GETs
    with gc_paused() as collections:
        fetch_model(uri, store, cache)
        assert collections, "no garbage collection ran during the download"
        assert not gc.isenabled()  # paused again for the rest of the start
        during_download = len(collections)
        fetch_model(uri, store, cache)  # a warm cache: no download, the start stays uncollected
        assert len(collections) == during_download
