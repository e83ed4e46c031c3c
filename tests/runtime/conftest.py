"""Fixtures the runtime tests share: the example MLP computed in-process, for reference."""
from __future__ import annotations

import importlib.util

import numpy as np
import requests
import pytest

from tests.conftest import REPO

MLP = REPO / "examples" / "mlp"


@pytest.fixture(scope="module")
def mlp_model():
    spec = importlib.util.spec_from_file_location("mlp_reference", MLP / "func.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.setup(None)


@pytest.fixture(scope="module")
def expected(mlp_model, batch) -> np.ndarray:
    """The MLP's outputs for the test module's ``batch`` fixture."""
    import torch
    with torch.inference_mode():
        return mlp_model(torch.from_numpy(batch)).numpy()




@pytest.fixture(autouse=True, params=["fresh", "kept-alive"])
def connection(request, monkeypatch) -> str:
    """Every runtime test twice: each request on a new connection (``requests.get`` and friends),
    then all of them on one ``requests.Session``'s kept-alive connections, so no path goes untested."""
    if request.param == "kept-alive":
        session = requests.Session()
        monkeypatch.setattr(requests.api, "request", session.request)
        request.addfinalizer(session.close)
    return request.param
