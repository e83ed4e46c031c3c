"""``kfunc cache warm``, through the command module's parser and entry function."""
from __future__ import annotations

import argparse
from pathlib import Path

from scaffold import cache_cmd

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
