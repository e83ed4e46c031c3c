"""Two real processes sharing one cache directory race for the same model: one download."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from .conftest import read_tree

REPO = Path(__file__).resolve().parents[2]
MODEL = {"config.json": b"{}", "weights.bin": os.urandom(4 * 2**20)}
RACER = """
import sys, time
from pathlib import Path
from functions.store import CacheSettings, StoreSettings, fetch_model
uri, cache_dir, go = sys.argv[1:]
settings = StoreSettings(multipart_threshold="1Mi", multipart_chunksize="256Ki", max_concurrency=2)
while not Path(go).exists():
    time.sleep(0.002)
print(fetch_model(uri, settings, CacheSettings(dir=cache_dir)))
"""


def test_two_processes_racing_download_the_model_once(s3, aws_env, tmp_path):
    bucket = s3.new_bucket()
    s3.put(bucket, {f"race/{name}": body for name, body in MODEL.items()})
    go = tmp_path / "go"
    args = [sys.executable, "-c", RACER, f"s3://{bucket}/race/", str(tmp_path / "cache"), str(go)]
    env = {**os.environ, **aws_env}
    s3.start_log()
    racers = [subprocess.Popen(args, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
              for _ in range(2)]
    go.touch()
    results = [racer.communicate(timeout=60) for racer in racers]

    assert [racer.returncode for racer in racers] == [0, 0], [err for _, err in results]
    paths = {out.strip() for out, _ in results}
    assert len(paths) == 1
    assert read_tree(Path(paths.pop())) == MODEL
    assert len(s3.gets(bucket, "race/config.json")) == 1
    first_ranges = [r for r in s3.gets(bucket, "race/weights.bin") if r.range and r.range.startswith("bytes=0-")]
    assert len(first_ranges) == 1
    assert len(s3.gets(bucket, "race/weights.bin")) == 16
