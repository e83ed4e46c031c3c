"""Device selection and safe weight loading."""
from __future__ import annotations

import pickle
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from functions import selected_device
from functions.device import configure_device, select_device
from functions.errors import ConfigError
from functions.function import Function
from functions.weights import find_weights, load_pickle, load_torch, load_weights, with_weights

REPO = Path(__file__).resolve().parents[2]


def run_python(code: str) -> str:
    return subprocess.run([sys.executable, "-c", code], cwd=REPO, check=True, capture_output=True, text=True).stdout.strip()


def test_importing_device_and_weights_does_not_import_torch():
    assert run_python("import sys, functions.device, functions.weights; print('torch' in sys.modules)") == "False"


def test_auto_without_torch_is_cpu():
    code = "import sys; sys.modules['torch'] = None; from functions.device import select_device; print(select_device('auto'))"
    assert run_python(code) == "cpu"


def test_device_follows_the_setting_and_what_torch_sees():
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert select_device("auto") == expected
    assert select_device("cpu") == "cpu"
    with pytest.raises(ConfigError, match="'gpu' is not allowed; use one of auto, cpu, cuda"):
        select_device("gpu")


@pytest.fixture
def reset_device(monkeypatch):
    monkeypatch.delenv("KFUNC_DEVICE", raising=False)
    yield
    configure_device("auto")


def test_selected_device_takes_kfunc_device_over_the_functions_runtime_device(tmp_path, monkeypatch, reset_device):
    (tmp_path / "func.py").write_text("from functions import predictor\n\n@predictor\ndef predict(x):\n    return x\n")
    (tmp_path / "kfunc.yaml").write_text("name: placed\nruntime:\n  device: cuda\n")
    Function.from_directory(tmp_path)

    monkeypatch.setenv("KFUNC_DEVICE", "cpu")
    assert selected_device() == "cpu"
    monkeypatch.delenv("KFUNC_DEVICE")
    if torch.cuda.is_available():
        assert selected_device() == "cuda"
    else:
        with pytest.raises(ConfigError, match=r"runtime.device \(or KFUNC_DEVICE\) is 'cuda' but torch sees no CUDA"):
            selected_device()


def test_a_bad_kfunc_device_names_the_variable_and_the_choices(monkeypatch, reset_device):
    monkeypatch.setenv("KFUNC_DEVICE", "gpu0")
    with pytest.raises(ConfigError, match="KFUNC_DEVICE.*'gpu0' is not allowed; use one of auto, cpu, cuda"):
        selected_device()


def test_asking_for_the_device_leaves_torch_unimported_unless_auto_needs_it():
    code = ("import os, sys; os.environ['KFUNC_DEVICE'] = 'cpu'; from functions import selected_device; "
            "from functions.device import expects_cuda; print(selected_device(), expects_cuda(), 'torch' in sys.modules)")
    assert run_python(code) == "cpu False False"
    code = "import sys; from functions.device import expects_cuda; print(expects_cuda(), 'torch' in sys.modules)"
    assert run_python(code) == "False False"


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_cuda_without_a_gpu_says_how_to_fix_it():
    with pytest.raises(ConfigError, match="torch sees no CUDA device"):
        select_device("cuda")


def test_safetensors_shards_are_preferred_and_merged(tmp_path):
    save_file({"a": torch.ones(3)}, tmp_path / "model-00001.safetensors")
    save_file({"b": torch.zeros(2)}, tmp_path / "model-00002.safetensors")
    torch.save({"stale": torch.ones(1)}, tmp_path / "pytorch_model.bin")

    weights = load_weights(tmp_path)

    assert sorted(weights) == ["a", "b"]
    assert torch.equal(weights["a"], torch.ones(3))


def test_torch_state_dict_loads_but_a_pickled_module_needs_opt_in(tmp_path):
    torch.save({"w": torch.arange(4)}, tmp_path / "state.pt")
    assert torch.equal(load_weights(tmp_path / "state.pt")["w"], torch.arange(4))

    torch.save(torch.nn.Linear(2, 2), tmp_path / "module.pt")
    with pytest.raises(ConfigError, match=r"torch.nn.modules.linear.Linear.*allow_pickle=True"):
        load_torch(tmp_path / "module.pt")
    assert isinstance(load_torch(tmp_path / "module.pt", allow_pickle=True), torch.nn.Linear)


def test_pickle_is_refused_without_opt_in(tmp_path):
    (tmp_path / "model.pkl").write_bytes(pickle.dumps({"coef": [1, 2]}))
    with pytest.raises(ConfigError, match="off by default; pass allow_pickle=True"):
        load_pickle(tmp_path / "model.pkl")
    assert load_pickle(tmp_path / "model.pkl", allow_pickle=True) == {"coef": [1, 2]}


def test_a_directory_without_weights_is_a_clear_error(tmp_path):
    (tmp_path / "a.pt").write_bytes(b"")
    (tmp_path / "b.pt").write_bytes(b"")
    with pytest.raises(ConfigError, match="found a.pt, b.pt"):
        find_weights(tmp_path)


def test_with_weights_fills_a_module_from_its_model_directory_and_needs_one_there(tmp_path):
    trained = torch.nn.Linear(2, 1)
    save_file(trained.state_dict(), tmp_path / "model.safetensors")
    fresh = torch.nn.Linear(2, 1)
    assert torch.equal(with_weights(fresh, tmp_path).weight, trained.weight)
    assert with_weights(fresh, None) is fresh  # no model.uri: the module as built

    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ConfigError, match="expected \\*.safetensors files or one torch checkpoint"):
        with_weights(torch.nn.Linear(2, 1), empty)
