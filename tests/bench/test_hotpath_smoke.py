"""The request-path counter (``scripts.bench.hotpath``): it serves real requests through KFuncApp
and counts what they execute, with payload logging off and on."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("logging", [False, True], ids=["logging-off", "logging-on"])
def test_counts_kfuncs_request_path_against_the_bare_app(logging: bool) -> None:
    done = subprocess.run([sys.executable, "-m", "scripts.bench.hotpath", "--requests", "20", "--top", "5",
                           *(["--logging"] if logging else [])], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    found = re.search(r"bytecodes per request: kfunc (\d+), bare ASGI app (\d+)", done.stdout)
    assert found, done.stdout
    kfunc, bare = map(int, found.groups())
    assert kfunc > bare > 0
    listed = done.stdout.splitlines()[1:]
    assert len(listed) == 5 and any("asgi.py:_serve" in line for line in listed)
