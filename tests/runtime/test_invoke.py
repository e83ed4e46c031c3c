"""``kfunc invoke`` against a running function, in each format, as a user types it."""
from __future__ import annotations

import json
import subprocess

import pytest

from tests.conftest import KFUNC, REPO, free_port

MLP = REPO / "examples" / "mlp"


@pytest.fixture(scope="module")
def mlp_server(serve_module):
    return serve_module(MLP)


def invoke(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*KFUNC, "invoke", *args], cwd=REPO, capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("fmt, unwrap", [
    ("http", lambda body: body),
    ("cloudevent", lambda body: body),
    ("v1", lambda body: body["predictions"]),
    ("v2", lambda body: body["outputs"][0]["data"]),
])
def test_invoke_each_format_with_default_data(mlp_server, fmt, unwrap):
    done = invoke(str(MLP), "--target", mlp_server.url, "--format", fmt)
    assert done.returncode == 0, done.stderr
    values = unwrap(json.loads(done.stdout))
    assert len(values if fmt == "v2" else values[0]) == 10
    if fmt == "cloudevent":
        assert "ce-type: mlp.response" in done.stderr


def test_invoke_with_data_file_and_no_function_dir(mlp_server, tmp_path):
    data = tmp_path / "x.json"
    data.write_text(json.dumps({"instances": [[0.5] * 64, [0.25] * 64]}))
    done = invoke(str(tmp_path), "--target", mlp_server.url, "--format", "v1", "--data", f"@{data}")
    assert done.returncode == 0, done.stderr
    assert len(json.loads(done.stdout)["predictions"]) == 2


def test_invoke_reports_error_answers_and_unreachable_targets(mlp_server):
    bad = invoke(str(MLP), "--target", mlp_server.url, "--format", "v1", "--data", "[[1, 2]]")
    assert bad.returncode == 1 and "expects [-1, 64]" in bad.stdout
    down = invoke(str(MLP), "--target", f"http://127.0.0.1:{free_port()}")
    assert down.returncode == 3 and "is the function running" in down.stderr
    assert "Traceback" not in down.stderr
