"""Cold start made observable: milestones since process start in the log and the V2 metadata, and
the warm-up inference each worker runs after fork."""
from __future__ import annotations

import logging
import os
import subprocess
import sys
import textwrap
import time

import pytest
import requests

from functions.function import Function
from functions.startup import MILESTONES

from ..conftest import REPO
from .serving import SCALED, infer_scaled, write_scale

ORDER = [f"startup_ms.{name}" for name in MILESTONES]


def test_served_function_reports_every_milestone_in_order_and_logs_them_once(serve, tmp_path):
    model = write_scale(tmp_path / "model", [1.0, 2.0, 3.0])
    spawned = time.monotonic()
    server = serve(SCALED, "--workers", "1", env={"KFUNC_MODEL_URI": str(model)})
    observed_ms = (time.monotonic() - spawned) * 1000

    parameters = requests.get(server.url + "/v2/models/scaled", timeout=5).json()["parameters"]

    assert list(parameters) == ["startup_ms", *ORDER]
    values = [parameters[key] for key in ORDER]
    assert 0 < values[0] and values == sorted(values)
    assert parameters["startup_ms"] == parameters["startup_ms.ready"]
    assert parameters["startup_ms"] <= observed_ms + 50  # measured from the process's own start, not before
    ready_lines = [line for line in server.log().splitlines() if "ready in process" in line]
    assert len(ready_lines) == 1
    assert "ms since process start: interpreter" in ready_lines[0] and "warm-up" in ready_lines[0]


@pytest.mark.parametrize("device, loader", [("cpu", "master"), ("cuda", "worker")])
def test_model_loads_before_fork_unless_bound_for_cuda_and_warm_up_runs_in_the_worker(serve, tmp_path, device, loader):
    model = write_scale(tmp_path / "model", [1.0, 2.0, 3.0])
    server = serve(SCALED, "--workers", "1", env={"KFUNC_MODEL_URI": str(model), "KFUNC_DEVICE": device})

    outputs = infer_scaled(server.url)

    assert outputs["y"] == [1.0, 2.0, 3.0]
    worker_pid = outputs["calls"][-1]
    assert worker_pid != server.process.pid
    assert outputs["calls"] == [worker_pid, worker_pid]  # the warm-up, then this request: never in the master
    assert outputs["loaded_by"] == [server.process.pid if loader == "master" else worker_pid]


def test_milestones_count_from_the_process_start_not_from_the_import():
    code = "import time; time.sleep(0.5); from functions.startup import StartupTimeline; " \
           "print(StartupTimeline().milestones['interpreter'])"
    interpreter_ms = float(subprocess.run([sys.executable, "-c", code], cwd=REPO, check=True,
                                          capture_output=True, text=True).stdout)
    assert interpreter_ms >= 490  # the half second before the import is counted (10 ms clock ticks)


def test_a_warm_up_that_fails_is_logged_and_the_function_still_serves(tmp_path, caplog, monkeypatch):
    (tmp_path / "func.py").write_text(textwrap.dedent("""
        from functions import Tensor, predictor

        @predictor(inputs=[Tensor("x", "FP32", [-1, 2])])
        def predict(x):
            if not x.any():
                raise ValueError("all zeros")
            return x
    """))
    (tmp_path / "kfunc.yaml").write_text("name: picky\n")
    monkeypatch.delenv("KFUNC_WARMUP", raising=False)
    function = Function.from_directory(tmp_path)
    function.load()

    with caplog.at_level(logging.INFO, logger="kfunc"):
        function.finish_start()

    assert "warm-up inference of picky on zeros failed (ValueError: all zeros); serving anyway" in caplog.text
    assert f"function picky ready in process {os.getpid()}" in caplog.text
    parameters = function.metadata()["parameters"]
    assert "startup_ms.warmup" not in parameters and parameters["startup_ms"] > 0


@pytest.mark.parametrize("inputs, expected", [
    ('[Tensor("text", "BYTES", [-1])]', "[b'']"),
    ('[Tensor("a", "INT64", [-1, 2]), Tensor("b", "FP16", [3])]', "{'a': [[0, 0]], 'b': [0.0, 0.0, 0.0]}"),
])
def test_warm_up_input_is_zeros_shaped_as_declared_with_variable_dims_as_one(tmp_path, inputs, expected):
    (tmp_path / "func.py").write_text(textwrap.dedent(f"""
        from functions import Tensor, predictor

        seen = []

        @predictor(inputs={inputs})
        def predict(data):
            seen.append(data)
            return [0]
    """))
    (tmp_path / "kfunc.yaml").write_text("name: shapes\n")
    function = Function.from_directory(tmp_path)
    function.load()
    function.warm_up()
    (data,) = function.handlers.predict.fn.__globals__["seen"]
    as_lists = {k: v.tolist() for k, v in data.items()} if isinstance(data, dict) else data.tolist()
    assert str(as_lists) == expected
