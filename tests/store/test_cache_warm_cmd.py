"""``kfunc cache warm``, through the command module's parser and entry function: one URI, or the
models of a function directory (every model of a repository, the pinned ones, or those named)."""
from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest
import requests

from functions.errors import ConfigError
from scaffold import cache_cmd

from ..model_repository import make_function, make_model
from .conftest import read_tree


def run_cli(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="kfunc")
    cache_cmd.add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(list(argv))
    return args.func(args)


def test_warm_fetches_into_the_given_cache_dir_and_prints_it(s3, aws_env, monkeypatch, tmp_path, capsys):
    bucket = s3.new_bucket()
    s3.put(bucket, {"m/config.json": b"{}", "m/weights.bin": b"w" * 2048})
    monkeypatch.setenv("KFUNC_CACHE_DIR", str(tmp_path / "env-cache"))

    assert run_cli("cache", "warm", f"s3://{bucket}/m/", "--cache-dir", str(tmp_path / "node-cache")) == 0

    model_dir = Path(capsys.readouterr().out.strip())
    assert model_dir.is_relative_to(tmp_path / "node-cache")
    assert read_tree(model_dir) == {"config.json": b"{}", "weights.bin": b"w" * 2048}
    assert not (tmp_path / "env-cache").exists()


def test_warm_uses_a_function_dirs_settings_and_verify_repairs_silent_corruption(s3, aws_env, monkeypatch,
                                                                                   tmp_path, capsys):
    bucket = s3.new_bucket()
    s3.put(bucket, {"m/weights.bin": b"good"})
    monkeypatch.delenv("AWS_ENDPOINT_URL")
    (tmp_path / "kfunc.yaml").write_text(
        f"name: embed\nstore:\n  endpoint-url: {s3.url}\n  max-attempts: 1\ncache:\n  dir: {tmp_path / 'yaml-cache'}\n")
    warm = ("cache", "warm", f"s3://{bucket}/m/", "--function-dir", str(tmp_path))

    assert run_cli(*warm) == 0
    model_dir = Path(capsys.readouterr().out.strip())
    assert model_dir.is_relative_to(tmp_path / "yaml-cache")
    (model_dir / "weights.bin").write_bytes(b"evil")

    run_cli(*warm)
    assert (model_dir / "weights.bin").read_bytes() == b"evil"
    run_cli(*warm, "--verify")
    assert (model_dir / "weights.bin").read_bytes() == b"good"


def repository_function(s3, tmp_path) -> tuple[str, Path]:
    """A function serving an S3 repository of three models (alpha pinned), and its bucket."""
    bucket = s3.new_bucket()
    for path, scale in {"alpha": 2, "beta/1": 3, "beta/2": 5}.items():
        files = read_tree(make_model(tmp_path / "local" / path, scale, size=1024))
        s3.put(bucket, {f"models/{path}/{name}": body for name, body in files.items()})
    directory = make_function(tmp_path, {})
    (directory / "kfunc.yaml").write_text(f"name: many\nmodel:\n  repository: s3://{bucket}/models/\n"
                                          "  pinned: [alpha]\n")
    return bucket, directory


def warmed(capsys) -> dict[str, Path]:
    return {line.split()[0]: Path(line.split()[1]) for line in capsys.readouterr().out.splitlines()}


def test_warm_without_a_uri_warms_every_model_of_a_repository_function_and_serving_starts_from_it(
        serve, s3, aws_env, tmp_path, capsys):
    bucket, directory = repository_function(s3, tmp_path)
    cache_dir = tmp_path / "node-cache"
    assert run_cli("cache", "warm", "--function-dir", str(directory), "--cache-dir", str(cache_dir)) == 0
    models = warmed(capsys)
    assert set(models) == {"alpha", "beta/1", "beta/2"}
    assert all(path.is_relative_to(cache_dir) for path in models.values())
    assert read_tree(models["beta/1"])["scale.txt"] == b"3"

    server = serve(directory, "--workers", "1", env={"KFUNC_CACHE_DIR": str(cache_dir)})
    s3.start_log()
    for name, version in (("alpha", None), ("beta", "1"), ("beta", "2")):
        path = f"/v2/models/{name}" + (f"/versions/{version}" if version else "") + "/infer"
        body = {"inputs": [{"name": "x", "datatype": "FP32", "shape": [1, 2], "data": [1.0, 2.0]}]}
        assert requests.post(server.url + path, json=body, timeout=30).status_code == 200
    assert not [r for r in s3.requests() if r.method == "GET" and r.path.endswith("weights.bin")]


def test_warm_pinned_or_named_models_only(s3, aws_env, tmp_path, capsys):
    _, directory = repository_function(s3, tmp_path)
    warm = ("cache", "warm", "--function-dir", str(directory), "--cache-dir", str(tmp_path / "cache"))
    assert run_cli(*warm, "--pinned") == 0
    assert set(warmed(capsys)) == {"alpha"}
    assert run_cli(*warm, "--model", "beta") == 0
    assert set(warmed(capsys)) == {"beta/1", "beta/2"}


@pytest.mark.parametrize("argv, message", [
    ((), "name a model URI, or --function-dir DIR"),
    (("--model", "gamma"), "--model: 'gamma' is not one of the function's models (alpha, beta)"),
    (("s3://b/m/", "--pinned"), "--pinned and --model choose among a function's models"),
])
def test_warm_refuses_what_it_cannot_choose_naming_the_fix(s3, aws_env, tmp_path, argv, message):
    _, directory = repository_function(s3, tmp_path)
    function = ("--function-dir", str(directory)) if argv else ()
    with pytest.raises(ConfigError, match=re.escape(message)):
        run_cli("cache", "warm", *argv, *function)
