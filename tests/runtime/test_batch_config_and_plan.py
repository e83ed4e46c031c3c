"""Declaring batching (decorator, Model class, kfunc.yaml), stacking rules, and the processes and
threads the server chooses from the cores, the GPUs and batching."""
from __future__ import annotations

import numpy as np
import pytest

from functions.concurrency import Plan, available_cpus, plan
from functions.config import BatchSettings, RuntimeSection
from functions.errors import ConfigError
from functions.function import Function
from functions.schema import parse
from functions.stacking import Unstackable, rows, split
from tests.runtime.test_sdk_and_config import make_function

BATCHING = "from functions import predictor\n@predictor(batch=True, max_batch_size=8, max_latency_ms=2)\ndef p(x):\n    return x\n"
CLASS = "from functions import Model\nclass M(Model):\n    batch = True\n    max_batch_size = 4\n    def predict(self, x):\n        return x\n"
PLAIN = "from functions import predictor\n@predictor\ndef p(x):\n    return x\n"


@pytest.mark.parametrize("source, yaml_runtime, expected", [
    (BATCHING, "", BatchSettings(8, 2)),
    (CLASS, "", BatchSettings(4, 5.0)),
    (BATCHING, "runtime:\n  batch:\n    max-latency-ms: 0\n", BatchSettings(8, 0)),
    (PLAIN, "runtime:\n  batch:\n    max-batch-size: 16\n", BatchSettings(16, 5.0)),  # kfunc.yaml turns it on
    (BATCHING, "runtime:\n  batch:\n    max-batch-size: 1\n", None),  # ... or off
    (PLAIN, "", None),
], ids=["decorator", "class", "yaml-tunes", "yaml-enables", "yaml-disables", "none"])
def test_batching_is_declared_in_code_and_tuned_in_kfunc_yaml(tmp_path, source, yaml_runtime, expected):
    function = Function.from_directory(make_function(tmp_path, source, f"name: demo\n{yaml_runtime}"))
    assert function.batching == expected


@pytest.mark.parametrize("source, message", [
    ("from functions import predictor\n@predictor(batch=True, max_batch_size=0)\ndef p(x): ...\n",
     "max_batch_size must be a whole number >= 1, got 0"),
    ("from functions import predictor\n@predictor(batch=True, max_latency_ms=-1)\ndef p(x): ...\n",
     "max_latency_ms must be a number >= 0, got -1"),
])
def test_bad_batch_settings_are_a_clear_error(tmp_path, source, message):
    with pytest.raises(ConfigError, match=message):
        Function.from_directory(make_function(tmp_path, source))


def test_bad_runtime_batch_names_the_field(tmp_path):
    directory = make_function(tmp_path, PLAIN, "name: demo\nruntime:\n  batch:\n    max-batch-size: 0\n")
    with pytest.raises(ConfigError, match=r"runtime\.batch\.max-batch-size: must be greater than 0"):
        Function.from_directory(directory)


def test_inputs_stack_only_with_a_first_axis_and_agreeing_row_counts():
    assert rows({"a": np.zeros((3, 2)), "b": ["x", "y", "z"]}) == 3
    with pytest.raises(Unstackable, match="is a scalar"):
        rows(np.array(1.0))
    with pytest.raises(Unstackable, match=r"differ in their first \(batch\) dimension \('a' has 2, 'b' has 3\)"):
        rows({"a": np.zeros((2, 1)), "b": np.zeros((3, 1))})
    parts = split({"y": np.arange(5), "z": [0, 1, 2, 3, 4]}, [2, 3])
    assert [p["z"] for p in parts] == [[0, 1], [2, 3, 4]] and parts[1]["y"].tolist() == [2, 3, 4]
    with pytest.raises(Exception, match="returned 4 rows for a batch of 5"):
        split(np.zeros(4), [2, 3])


def runtime(**fields) -> RuntimeSection:
    return parse(RuntimeSection, fields, "runtime")


@pytest.mark.parametrize("section, cpus, gpus, batch, expected", [
    ({}, 4, 0, None, Plan(workers=4, threads=4, torch_threads=1)),  # a process per core, one torch thread each
    ({}, 1, 0, None, Plan(1, 4, 1)),
    ({}, 8, 2, None, Plan(2, 4, 4)),  # a process per GPU; the cores shared out for torch
    ({}, 2, 0, BatchSettings(32, 5), Plan(2, 32, 1)),  # threads for a full batch per process
    ({"workers": 3, "threads": 2}, 8, 0, BatchSettings(32, 5), Plan(3, 2, 2)),  # kfunc.yaml wins
], ids=["cpu", "one-core", "gpu", "batching", "explicit"])
def test_plan_follows_cores_gpus_and_batching(section, cpus, gpus, batch, expected):
    assert plan(runtime(**section), cpus=cpus, gpus=gpus, batch=batch) == expected


def test_command_line_and_environment_win_over_the_plan(monkeypatch):
    monkeypatch.setenv("KFUNC_TORCH_THREADS", "3")
    assert plan(runtime(workers=4), cpus=2, workers=1, threads=8) == Plan(1, 8, 3)
    monkeypatch.setenv("KFUNC_CPUS", "2.5")
    assert available_cpus() == 3  # a pod's fractional CPU rounds up
