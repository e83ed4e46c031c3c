"""A multi-model function over gRPC with tritonclient: ModelInfer by model_name/model_version, and
the repository extension (RepositoryIndex, RepositoryModelLoad, RepositoryModelUnload), on both ports."""
from __future__ import annotations

import numpy as np
import pytest
import tritonclient.grpc as tg
from tritonclient.utils import InferenceServerException

from tests.model_repository import make_function, make_model


@pytest.fixture(scope="module")
def many(start_server, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("repo")
    return start_server(make_function(tmp, {"alpha": (2, 0, {}), "beta/1": (3, 0, {}), "beta/2": (5, 0, {})}))


@pytest.fixture(params=["rest-port", "grpc-port"])
def client(request, many) -> tg.InferenceServerClient:
    return tg.InferenceServerClient(many.rest if request.param == "rest-port" else many.grpc)


def infer(client: tg.InferenceServerClient, model: str, version: str = "") -> list[float]:
    tensor = tg.InferInput("x", [1, 2], "FP32")
    tensor.set_data_from_numpy(np.array([[1.0, 2.0]], dtype=np.float32))
    return client.infer(model, [tensor], model_version=version).as_numpy("y").ravel().tolist()


def test_model_infer_reaches_the_named_model_and_version(client):
    assert infer(client, "alpha") == [2.0, 4.0]
    assert infer(client, "beta", "1") == [3.0, 6.0]
    assert infer(client, "beta") == [5.0, 10.0]
    with pytest.raises(InferenceServerException) as caught:
        infer(client, "nope")
    assert caught.value.status() == "StatusCode.NOT_FOUND" and "POST /v2/repository/index" in caught.value.message()


def test_repository_index_load_and_unload_with_tritonclient(client):
    client.load_model("alpha")
    states = {(m.name, m.version): m.state for m in client.get_model_repository_index().models}
    assert states[("alpha", "")] == "READY" and set(states) == {("alpha", ""), ("beta", "1"), ("beta", "2")}
    client.unload_model("alpha")
    index = {m.name: m for m in client.get_model_repository_index().models if not m.version}
    assert index["alpha"].state == "UNAVAILABLE" and "unloaded" in index["alpha"].reason
    assert infer(client, "alpha") == [2.0, 4.0]  # its next request loads it again
    with pytest.raises(InferenceServerException) as caught:
        client.load_model("nope")
    assert caught.value.status() == "StatusCode.NOT_FOUND"


def test_a_model_added_to_the_repository_is_indexed_and_served_without_a_restart(start_server, tmp_path):
    directory = make_function(tmp_path, {"alpha": (2, 0, {})}, "  refresh-interval: 0\n")
    client = tg.InferenceServerClient(start_server(directory).grpc)
    make_model(tmp_path / "repo" / "gamma", 7)
    assert {m.name for m in client.get_model_repository_index().models} == {"alpha", "gamma"}
    assert infer(client, "gamma") == [7.0, 14.0]
