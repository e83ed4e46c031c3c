"""Fetching the model in a child process while func.py imports: the parent gets the directory or the error."""
from __future__ import annotations

import subprocess
import sys
import textwrap

from ..conftest import REPO


def test_prefetch_hands_back_the_model_directory_or_the_stores_error(s3, aws_env, tmp_path):
    bucket = s3.new_bucket()
    s3.put(bucket, {"bert/config.json": b'{"hidden": 4}'})
    code = textwrap.dedent(f"""
        import os
        from functions.store import CacheSettings, StoreError, StoreSettings
        from functions.store.prefetch import Prefetch

        cache = CacheSettings(dir={str(tmp_path / "cache")!r})
        found = Prefetch.start("s3://{bucket}/bert/", StoreSettings(), cache)
        missing = Prefetch.start("s3://{bucket}-missing/bert/", StoreSettings(max_attempts=1), cache)
        print(found._process.pid != os.getpid(), (found.result() / "config.json").read_text())
        try:
            missing.result()
        except StoreError as exc:
            print(type(exc).__name__, exc)
        print(Prefetch.start("./model", StoreSettings(), cache), Prefetch.start(None, StoreSettings(), cache))
    """)
    lines = subprocess.run([sys.executable, "-c", code], cwd=REPO, check=True, capture_output=True,
                           text=True).stdout.splitlines()

    assert lines[0] == 'True {"hidden": 4}'
    assert lines[1].startswith(f"StoreError s3://{bucket}-missing/bert/: not found")
    assert lines[2] == "None None"  # local paths and no model: nothing to prefetch
