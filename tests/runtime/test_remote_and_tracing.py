"""A transformer calling a remote predictor over V1 and V2, with one trace across both."""
from __future__ import annotations

import numpy as np
import pytest
import requests

from tests.conftest import REPO, function_dir

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
TRACEPARENT = f"00-{TRACE_ID}-00f067aa0ba902b7-01"


@pytest.fixture(scope="module")
def batch() -> np.ndarray:
    return np.random.default_rng(2).standard_normal((4, 64)).astype(np.float32)


@pytest.fixture(scope="module")
def predictor(serve_module):
    return serve_module(REPO / "examples" / "mlp", env={"OTEL_TRACES_EXPORTER": "console"})


@pytest.mark.parametrize("protocol", ["v1", "v2"])
def test_transformer_calls_remote_predictor_in_one_trace(serve_module, predictor, batch, expected, protocol):
    frontend = serve_module(function_dir("frontend"), env={
        "KFUNC_PREDICTOR_HOST": predictor.url.removeprefix("http://"),
        "KFUNC_PREDICTOR_PROTOCOL": protocol,
        "OTEL_TRACES_EXPORTER": "console",
    })
    records = [{"features": row} for row in batch.tolist()]
    answer = requests.post(frontend.url + "/v1/models/mlp:predict", json={"instances": records},
                           headers={"traceparent": TRACEPARENT})
    assert answer.status_code == 200, answer.text
    assert answer.json()["predictions"] == expected.argmax(axis=1).tolist()
    frontend_log = frontend.log()
    for span in ("kfunc.transform.pre", "kfunc.predict", "kfunc.transform.post"):
        assert f'"name": "{span}"' in frontend_log
    assert f'"trace_id": "0x{TRACE_ID}"' in frontend_log
    assert f'"trace_id": "0x{TRACE_ID}"' in predictor.log(), "trace context not propagated to the predictor"


def test_remote_predictor_errors_are_passed_on(serve_module, predictor):
    frontend = serve_module(function_dir("frontend"), env={"KFUNC_PREDICTOR_HOST": predictor.url.removeprefix("http://")})
    answer = requests.post(frontend.url + "/v1/models/mlp:predict", json={"instances": [{"features": [1.0, 2.0]}]})
    assert answer.status_code == 400
    assert "predictor" in answer.json()["error"] and "shape" in answer.json()["error"]


def test_unreachable_remote_predictor_is_502(serve_module):
    from tests.conftest import free_port
    frontend = serve_module(function_dir("frontend"), env={"KFUNC_PREDICTOR_HOST": f"127.0.0.1:{free_port()}"})
    answer = requests.post(frontend.url + "/v1/models/mlp:predict", json={"instances": [{"features": [0.0] * 64}]})
    assert answer.status_code == 502 and "unreachable" in answer.json()["error"]


def test_split_roles_run_one_side_each(serve_module):
    """kfunc deploy --split runs the same func.py twice: KFUNC_ROLE picks the side."""
    pipeline = function_dir("pipeline")
    predictor_side = serve_module(pipeline, env={"KFUNC_ROLE": "predictor"})
    transformer_side = serve_module(pipeline, env={"KFUNC_ROLE": "transformer", "KFUNC_PREDICTOR_HOST": predictor_side.url})
    x = [[1, 0, 0, 0]]
    raw = requests.post(predictor_side.url + "/v1/models/pipeline:predict", json={"instances": x}).json()
    assert raw == {"predictions": [[0.0, 1.0, 2.0]]}  # no x2 scaling, no labels: predictor only
    full = requests.post(transformer_side.url + "/v1/models/pipeline:predict", json={"instances": x}).json()
    assert full == {"predictions": [{"y": [0.0, 2.0, 4.0], "argmax": 2}]}
