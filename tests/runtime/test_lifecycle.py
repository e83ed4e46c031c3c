"""The server's life as Knative drives it: readiness that follows the model load, a SIGTERM
that drains in-flight requests, fork-safe torch workers, the port from the environment, and
a clear refusal to start on a broken function directory."""
from __future__ import annotations

import importlib.util
import signal
import socket
import subprocess
import textwrap
import time
from concurrent.futures import Future, ThreadPoolExecutor

import numpy as np
import pytest
import requests

from tests.conftest import KFUNC, REPO, free_port, function_dir

SLOW_GRACEFUL_TIMEOUT = 30  # runtime.timeout in funcs/slow/kfunc.yaml


def test_readiness_follows_the_model_load(serve, tmp_path):
    marker = tmp_path / "store-reachable"
    server = serve(function_dir("slowload"), env={"KFUNC_TEST_MARKER": str(marker)}, ready=False)
    for path in ("/v2/health/ready", "/health/readiness", "/v2/models/slowload/ready"):
        answer = requests.get(server.url + path)
        assert answer.status_code == 503, path
        assert "ConnectionError: model store unreachable (test)" in answer.json()["error"], path
    infer = requests.post(server.url + "/v1/models/slowload:predict", json={"instances": [1, 2]})
    assert infer.status_code == 503 and "is not ready" in infer.json()["error"]
    assert requests.get(server.url + "/v2/health/live").status_code == 200

    marker.touch()
    server.wait_ready(timeout=10)  # retries back off from 1 s: 1, 2, 4 s...
    for path in ("/v2/health/ready", "/health/readiness", "/v2/models/slowload/ready"):
        assert requests.get(server.url + path).json()["ready"] is True, path
    infer = requests.post(server.url + "/v1/models/slowload:predict", json={"instances": [1, 2]})
    assert infer.json() == {"predictions": [7, 14]}


def refused(port: int) -> bool:
    """Whether a TCP connection to ``port`` is refused (a connection accepted is closed again)."""
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except ConnectionRefusedError:
        return True
    return False


def test_sigterm_drains_in_flight_requests_and_refuses_new_ones(serve):
    server = serve(function_dir("slow"), "--workers", "2", "--threads", "4")
    port = int(server.url.rsplit(":", 1)[1])
    delays = [1.5 + 0.07 * i for i in range(8)]  # 1.5 to 2 s
    with ThreadPoolExecutor(len(delays)) as pool:
        calls: list[Future] = [pool.submit(requests.post, server.url + "/v1/models/slow:predict",
                                           json={"instances": [delay]}, timeout=30) for delay in delays]
        time.sleep(0.5)  # every request is in a worker now
        server.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 1.0
        while not refused(port) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert refused(port), "a new connection after SIGTERM was not refused"
        # while any request is in flight its worker is alive: refusal must not wait for the drain
        assert not all(call.done() for call in calls), "the check came too late to mean anything"
        answers = [call.result() for call in calls]
    assert [a.status_code for a in answers] == [200] * len(delays)
    assert [a.json() for a in answers] == [{"predictions": [delay]} for delay in delays]
    assert server.process.wait(timeout=SLOW_GRACEFUL_TIMEOUT) == 0
    assert "Shutting down: Master" in server.log()


def torchwarm_expected(batch: np.ndarray) -> np.ndarray:
    """What funcs/torchwarm's network computes for ``batch``, in this process."""
    import torch
    spec = importlib.util.spec_from_file_location("torchwarm_reference", function_dir("torchwarm") / "func.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    with torch.inference_mode():
        return module.build()(torch.from_numpy(batch)).numpy()


@pytest.mark.parametrize("torch_import", ["module", "load"])
def test_workers_forked_after_a_torch_forward_in_the_master_do_not_hang(serve, torch_import):
    """Sync workers (one thread each) run the forward on the thread that forked, where a dead
    OpenMP pool inherited from the master hangs; the runtime must prevent that."""
    server = serve(function_dir("torchwarm"), "--workers", "2", "--threads", "1",
                   env={"KFUNC_TORCH_THREADS": "2", "TORCHWARM_IMPORT": torch_import})
    batch = np.random.default_rng(3).standard_normal((8, 256)).astype(np.float32)
    request = {"inputs": [{"name": "x", "datatype": "FP32", "shape": [8, 256], "data": batch.ravel().tolist()}]}

    def infer(_: int) -> dict:
        answer = requests.post(server.url + "/v2/models/torchwarm/infer", json=request, timeout=10)
        assert answer.status_code == 200, answer.text
        return {o["name"]: o["data"] for o in answer.json()["outputs"]}

    with ThreadPoolExecutor(4) as pool:
        outputs = list(pool.map(infer, range(20)))
    expected = torchwarm_expected(batch)
    for output in outputs:
        np.testing.assert_allclose(np.array(output["y"]).reshape(8, 4), expected, rtol=1e-5, atol=1e-5)
        assert output["threads"] == [2]  # workers do get KFUNC_TORCH_THREADS intra-op threads


@pytest.mark.parametrize("variable", ["PORT", "LISTEN_ADDRESS"])
def test_port_comes_from_the_environment_without_port_flag(serve, variable):
    port = free_port()
    env = {"PORT": str(port), "LISTEN_ADDRESS": None} if variable == "PORT" else \
        {"LISTEN_ADDRESS": f"127.0.0.1:{port}", "PORT": None}
    host = ["--host", "127.0.0.1"] if variable == "PORT" else []
    server = serve(function_dir("broken"), *host, env=env, port=port)
    assert requests.get(f"http://127.0.0.1:{port}/health/readiness").json() == {"ready": True}
    assert f"Listening at: http://127.0.0.1:{port} " in server.log()


@pytest.mark.parametrize("config, source, message", [
    ("name: demo\nruntime:\n  wokers: 2\n", "", "kfunc.yaml: runtime.wokers: unknown field; did you mean 'workers'?"),
    ("name: Demo_Func\n", "", "kfunc.yaml: name: must be a DNS-1035 label"),
    ("name: demo\n", "x = 1\n", "func.py: no predictor found; decorate a function with @predictor"),
], ids=["unknown-field", "bad-name", "no-predictor"])
def test_bad_function_directory_fails_with_one_line(tmp_path, config, source, message):
    (tmp_path / "kfunc.yaml").write_text(config)
    (tmp_path / "func.py").write_text(source or textwrap.dedent("""
        from functions import predictor

        @predictor
        def predict(x):
            return x
    """))
    result = subprocess.run([*KFUNC, "run", str(tmp_path), "--port", str(free_port())], cwd=REPO,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 3  # a user error (docs/deploy.md: exit codes)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"kfunc run: {tmp_path}") and message in lines[0]
    assert "Traceback" not in result.stderr + result.stdout


def test_workers_collect_garbage_and_share_the_masters_heap_frozen(serve, tmp_path):
    """``kfunc run`` starts with the cyclic GC paused; the workers must have it back (or every
    reference cycle a request leaves would leak), with the master's objects frozen so that their
    collections do not copy the pages they share with it."""
    (tmp_path / "kfunc.yaml").write_text("name: gcstate\n")
    (tmp_path / "func.py").write_text(textwrap.dedent("""
        import gc

        from functions import load, predictor

        @load
        def setup(model_dir):
            return {"paused_during_load": not gc.isenabled()}

        @predictor
        def predict(model, instances):
            return [{**model, "enabled": gc.isenabled(), "frozen": gc.get_freeze_count()}]
    """))
    server = serve(tmp_path, "--workers", "2")
    answers = [requests.post(server.url + "/v1/models/gcstate:predict", json={"instances": [0]}).json()
               for _ in range(4)]
    for answer in answers:
        state = answer["predictions"][0]
        assert state["paused_during_load"] and state["enabled"], state
        assert state["frozen"] > 10_000, state  # the runtime's and numpy's objects at least
