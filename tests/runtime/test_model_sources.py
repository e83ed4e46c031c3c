"""Which models a function serves (``model.repository``, ``models:``, ``model.pinned``), and the errors
that name the kfunc.yaml field when the configuration is wrong."""
from __future__ import annotations

import textwrap

import numpy as np
import pytest

from functions.context import Context
from functions.errors import ConfigError, ModelNotFound
from functions.function import Function
from tests.model_repository import make_model

FUNC = textwrap.dedent("""
    from functions import load, predictor

    @load
    def setup(model_dir, context):
        return (context.model_name, context.model_version, float((model_dir / "scale.txt").read_text()))

    @predictor
    def predict(model, x):
        return [model[0], model[1], x * model[2]]
""")


def function(tmp_path, yaml: str) -> Function:
    (tmp_path / "func.py").write_text(FUNC)
    (tmp_path / "kfunc.yaml").write_text("name: many\n" + textwrap.dedent(yaml))
    return Function.from_directory(tmp_path)


def ask(fn: Function, name: str, version: str | None = None):
    return fn.infer(np.array(1.0), Context(request_id="t", protocol="v2", model_name=name, model_version=version))


def test_each_sub_directory_of_the_repository_is_a_model_and_load_gets_its_name(tmp_path):
    for path, scale in {"a": 2, "b/1": 3, "b/10": 4, "b/2": 5}.items():
        make_model(tmp_path / "repo" / path, scale)
    (tmp_path / "repo" / "README.md").write_text("not a model")
    fn = function(tmp_path, "model:\n  repository: repo\n")
    assert [(e.name, e.version) for e in fn.registry.entries] == [("a", None), ("b", "1"), ("b", "2"), ("b", "10")]
    assert ask(fn, "a") == ["a", None, 2.0]
    assert ask(fn, "b") == ["b", "10", 4.0]  # the latest version, ordered as numbers
    assert ask(fn, "b", "2") == ["b", "2", 5.0]
    with pytest.raises(ModelNotFound, match="model 'c' not found; this server serves 'a', 'b'"):
        ask(fn, "c")


def test_an_explicit_models_list(tmp_path):
    make_model(tmp_path / "x", 7)
    fn = function(tmp_path, f"models:\n  - name: seven\n    uri: {(tmp_path / 'x').as_uri()}\n  - name: rel\n    uri: x\n")
    assert ask(fn, "seven") == ["seven", None, 7.0] and ask(fn, "rel")[2] == 7.0


@pytest.mark.parametrize("yaml, message", [
    ("model:\n  repository: missing\n", "model.repository: .*missing is not a directory"),
    ("model:\n  repository: repo\n  pinned: [zz]\n", "model.pinned: 'zz' is not one of the models served"),
    ("model:\n  repository: repo\nmodels:\n  - name: a\n", "models: and model.repository both name models"),
    ("models:\n  - name: a\n  - name: a\n", "models: model 'a' is listed twice"),
    ("models:\n  - name: 'bad name'\n", r"models\[0\].name: must be letters"),
    ("models:\n  - uri: x\n", r"models\[0\].name: required field is missing"),
    ("runtime:\n  memory-budget: lots\n", "runtime.memory-budget: 'lots' is not a size"),
    ("model:\n  repository: https://example.com/models.tar\n", "model.repository: .* is a single file"),
])
def test_configuration_mistakes_name_the_field(tmp_path, yaml, message):
    make_model(tmp_path / "repo" / "a", 1)
    with pytest.raises(ConfigError, match=message):
        function(tmp_path, yaml)


def test_listing_again_skips_a_directory_whose_name_is_no_model_name(tmp_path, caplog):
    make_model(tmp_path / "repo" / "a", 2)
    fn = function(tmp_path, f"model:\n  repository: {tmp_path / 'repo'}\n  refresh-interval: 0\n")
    make_model(tmp_path / "repo" / "bad name", 3)
    make_model(tmp_path / "repo" / "c", 4)
    assert ask(fn, "c")[2] == 4.0  # an unknown name lists the repository again
    assert fn.registry.names() == ["a", "c"]
    assert "'bad name' is not a valid model name" in caplog.text and "it is not served" in caplog.text
