"""The handler SDK and kfunc.yaml as a user meets them: injection, loading, clear config errors."""
from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
import pytest

from functions import Context, Tensor
from functions.config import load_config
from functions.errors import ConfigError
from functions.function import Function
from functions.loader import load_handlers


def make_function(tmp_path: Path, source: str, config: str = "name: demo\n") -> Path:
    (tmp_path / "func.py").write_text(textwrap.dedent(source))
    (tmp_path / "kfunc.yaml").write_text(textwrap.dedent(config))
    return tmp_path


def ctx() -> Context:
    return Context(request_id="r1", protocol="v2")


def test_handlers_get_model_and_context_by_name(tmp_path):
    directory = make_function(tmp_path, """
        from functions import load, predictor

        @load
        def setup(model_dir):
            return 10

        @predictor
        def predict(batch, context, model):
            return batch * model, context.request_id
    """)
    function = Function.from_directory(directory)
    function.load()
    result, request_id = function.infer(np.array([1, 2]), ctx())
    assert result.tolist() == [10, 20] and request_id == "r1"


def test_async_handlers_run(tmp_path):
    directory = make_function(tmp_path, """
        import asyncio
        from functions import predictor

        @predictor
        async def predict(x):
            await asyncio.sleep(0)
            return x + 1
    """)
    function = Function.from_directory(directory)
    function.load()
    assert function.infer(np.array([1]), ctx()).tolist() == [2]
    assert function.infer(np.array([2]), ctx()).tolist() == [3]


def test_user_module_named_functions_does_not_shadow_the_sdk(tmp_path):
    (tmp_path / "functions.py").write_text("raise RuntimeError('user module imported instead of the SDK')\n")
    (tmp_path / "helpers.py").write_text("OFFSET = 5\n")
    directory = make_function(tmp_path, """
        from functions import predictor
        from helpers import OFFSET

        @predictor
        def predict(x):
            return x + OFFSET
    """)
    function = Function.from_directory(directory)
    function.load()
    assert function.infer(np.array([1]), ctx()).tolist() == [6]


@pytest.mark.parametrize("source, message", [
    ("x = 1\n", "no predictor found"),
    ("from functions import predictor\n@predictor\ndef p(a, b):\n    return a\n", "takes 2 data parameters"),
    ("import not_a_module\n", "ModuleNotFoundError"),
    ("from functions import predictor\n@predictor\ndef p(x): ...\n@predictor\ndef q(x): ...\n", "two predict handlers"),
])
def test_bad_func_py_is_a_clear_error(tmp_path, source, message):
    with pytest.raises(ConfigError, match=message):
        load_handlers(make_function(tmp_path, source))


@pytest.mark.parametrize("config, message", [
    ("name: Bad_Name\n", r"\.?name: must be a DNS-1035 label"),
    ("name: ok\nruntime:\n  wokers: 2\n", r"runtime\.wokers: unknown field; did you mean 'workers'\?"),
    ("name: ok\nruntime:\n  workers: 0\n", r"runtime\.workers: must be greater than 0"),
    ("name: ok\nruntime:\n  threads: many\n", r"runtime\.threads: expected an integer"),
    ("name: ok\nmodel:\n  inputs:\n    - {name: x, datatype: FLOAT, shape: [1]}\n", r"model\.inputs\[0\]\.datatype: 'FLOAT' is not a datatype"),
    ("name: ok\nmodel:\n  inputs:\n    - {name: x, datatype: FP32}\n", r"model\.inputs\[0\]\.shape: required field is missing"),
    ("version: '1'\n", r"name: required field is missing"),
    ("name: [unclosed\n", "not valid YAML"),
])
def test_bad_kfunc_yaml_names_the_field(tmp_path, config, message):
    (tmp_path / "kfunc.yaml").write_text(config)
    with pytest.raises(ConfigError, match=message):
        load_config(tmp_path)


def test_tensor_metadata_from_yaml_when_decorator_declares_none(tmp_path):
    directory = make_function(tmp_path, "from functions import predictor\n@predictor\ndef p(x):\n    return x\n", """
        name: demo
        model:
          inputs: [{name: x, datatype: INT8, shape: [-1, 3]}]
    """)
    function = Function.from_directory(directory)
    assert function.inputs == [Tensor("x", "INT8", [-1, 3])]
    assert function.metadata()["inputs"] == [{"name": "x", "datatype": "INT8", "shape": [-1, 3]}]


def test_model_uri_env_overrides_config(tmp_path, monkeypatch):
    weights = tmp_path / "weights"
    weights.mkdir()
    (weights / "w.txt").write_text("3")
    directory = make_function(tmp_path, """
        from pathlib import Path
        from functions import load, predictor

        @load
        def setup(model_dir):
            return int((Path(model_dir) / "w.txt").read_text())

        @predictor
        def p(model, x):
            return x * model
    """, "name: demo\nmodel:\n  uri: /nonexistent\n")
    monkeypatch.setenv("KFUNC_MODEL_URI", f"file://{weights}")
    function = Function.from_directory(directory)
    function.load()
    assert function.infer(np.array([2]), ctx()).tolist() == [6]
