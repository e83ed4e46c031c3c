"""A function serving a repository of models: routing by name on every protocol, the repository API,
loading on first request (once), failing loads, and the pod-wide memory budget across workers."""
from __future__ import annotations

import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from cloudevents.conversion import to_binary
from cloudevents.http import CloudEvent

from tests.conftest import KFUNC, REPO, free_port, scrape
from tests.model_repository import MiB, make_function

X = [[1.0, 2.0]]


def v1(server, name: str) -> requests.Response:
    return requests.post(f"{server.url}/v1/models/{name}:predict", json={"instances": X}, timeout=30)


def v2(server, name: str, version: str | None = None) -> requests.Response:
    path = f"/v2/models/{name}" + (f"/versions/{version}" if version else "") + "/infer"
    body = {"inputs": [{"name": "x", "datatype": "FP32", "shape": [1, 2], "data": [1.0, 2.0]}]}
    return requests.post(server.url + path, json=body, timeout=30)


def index(server) -> dict[str, dict]:
    rows = requests.post(f"{server.url}/v2/repository/index", timeout=10).json()
    return {row["name"] + (f"/{row['version']}" if "version" in row else ""): row for row in rows}


@pytest.fixture(scope="module")
def repo_server(serve_module, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("multi")
    directory = make_function(tmp, {"alpha": (2, 0, {}), "beta/1": (3, 0, {}), "beta/2": (5, 0, {}),
                                    "broken": (1, 0, {"BROKEN": ""}), "slow": (7, 0, {"SLEEP": "0.5"})},
                              "  pinned: [alpha]\n")
    server = serve_module(directory, "--workers", "1", env={"REPO_LOADS_DIR": str(tmp)})
    server.loads = tmp
    return server


def test_requests_reach_the_model_they_name_on_v1_v2_and_cloudevents(repo_server):
    assert v1(repo_server, "alpha").json() == {"predictions": [[2.0, 4.0]]}
    assert v2(repo_server, "beta").json()["outputs"][0]["data"] == [5.0, 10.0]  # the latest version
    answer = v2(repo_server, "beta", "1").json()
    assert answer["outputs"][0]["data"] == [3.0, 6.0] and answer["model_version"] == "1"
    headers, body = to_binary(CloudEvent({"type": "t", "source": "/tests", "model": "beta", "modelversion": "1"},
                                         {"instances": X}))
    assert requests.post(repo_server.url + "/", headers=headers, data=body, timeout=30).json() == \
        {"predictions": [[3.0, 6.0]]}
    plain = requests.post(repo_server.url + "/", json={"instances": X}, headers={"X-Kfunc-Model": "alpha"}, timeout=30)
    assert plain.json() == {"predictions": [[2.0, 4.0]]}
    unnamed = requests.post(repo_server.url + "/", json={"instances": X}, timeout=30)
    assert unnamed.status_code == 400 and "X-Kfunc-Model" in unnamed.json()["error"]
    assert requests.get(f"{repo_server.url}/v1/models", timeout=10).json() == \
        {"models": ["alpha", "beta", "broken", "slow"]}


def test_an_unknown_model_is_404_naming_the_list_endpoints(repo_server):
    for answer in (v1(repo_server, "nope"), v2(repo_server, "nope"), v2(repo_server, "beta", "9")):
        assert answer.status_code == 404
    assert "GET /v1/models or POST /v2/repository/index" in v1(repo_server, "nope").json()["error"]
    assert "versions '1', '2'" in v2(repo_server, "beta", "9").json()["error"]


def test_a_failing_load_answers_503_with_its_reason_while_others_serve(repo_server):
    failed = v1(repo_server, "broken")
    assert failed.status_code == 503
    assert "broken: weights are corrupt" in failed.json()["error"] and "retried" in failed.json()["error"]
    assert v1(repo_server, "alpha").status_code == 200
    again = v1(repo_server, "broken")  # within the backoff: answered without trying again
    assert again.status_code == 503
    row = index(repo_server)["broken"]
    assert row["state"] == "UNAVAILABLE" and "weights are corrupt" in row["reason"]


def test_concurrent_first_requests_load_a_model_once(repo_server):
    log = repo_server.loads / "slow.log"
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda _: v1(repo_server, "slow"), range(8)))
    assert [a.status_code for a in answers] == [200] * 8
    assert len(log.read_text().split()) == 1
    found = scrape(repo_server.url)
    assert found.value("kfunc_model_loads_total", model="slow") == 1
    misses = found.value("kfunc_model_misses_total", model="slow")
    assert misses >= 1 and misses + found.value("kfunc_model_hits_total", model="slow") in (8, 16)


def test_repository_index_load_and_unload(repo_server):
    rows = index(repo_server)
    assert rows["alpha"]["state"] == "READY" and set(rows) >= {"alpha", "beta/1", "beta/2", "broken", "slow"}
    assert requests.post(f"{repo_server.url}/v2/repository/models/beta/load",
                         json={"parameters": {"version": "1"}}, timeout=30).status_code == 200
    assert index(repo_server)["beta/1"]["state"] == "READY"
    assert requests.post(f"{repo_server.url}/v2/repository/models/beta/unload", timeout=30).status_code == 200
    rows = index(repo_server)
    assert rows["beta/1"]["state"] == rows["beta/2"]["state"] == "UNAVAILABLE"
    assert "unloaded" in rows["beta/1"]["reason"]
    pinned = requests.post(f"{repo_server.url}/v2/repository/models/alpha/unload", timeout=30)
    assert pinned.status_code == 400 and "model.pinned" in pinned.json()["error"]
    missing = requests.post(f"{repo_server.url}/v2/repository/models/nope/load", timeout=30)
    assert missing.status_code == 404
    ready = requests.post(f"{repo_server.url}/v2/repository/index", json={"ready": True}, timeout=10).json()
    assert "beta" not in [row["name"] for row in ready]


def test_model_metadata_carries_its_own_load_timeline(repo_server):
    v1(repo_server, "slow")
    meta = requests.get(f"{repo_server.url}/v2/models/slow", timeout=10).json()
    timeline = meta["parameters"]
    assert meta["name"] == "slow" and timeline["model_state"] == "READY"
    assert timeline["model_load_ms.loaded"] - timeline["model_load_ms.requested"] >= 500  # the SLEEP
    assert requests.get(f"{repo_server.url}/v2/models/beta", timeout=10).json()["versions"] == ["1", "2"]


def test_the_memory_budget_holds_for_the_pod_across_workers(serve, tmp_path):
    """Six 4 MiB models, a budget that fits two: whichever worker loads, the pod's models stay under it."""
    models = {f"m{i}": (i + 1, 4 * MiB, {}) for i in range(6)}
    server = serve(make_function(tmp_path, models, "runtime:\n  memory-budget: 10Mi\n"), "--workers", "2")
    resident: list[float] = []
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            resident.append(scrape(server.url).value("kfunc_model_resident_bytes"))
            time.sleep(0.05)

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        with ThreadPoolExecutor(4) as pool:
            answers = list(pool.map(lambda i: v1(server, f"m{i % 6}"), range(60)))
    finally:
        stop.set()
        sampler.join()
    assert {a.status_code for a in answers} == {200}
    assert [a.json()["predictions"][0][0] for a in answers[:6]] == [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]
    assert resident and max(resident) <= 10 * MiB
    assert scrape(server.url).value("kfunc_model_evictions_total") > 0


def kfunc_models(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*KFUNC, "models", *args], cwd=REPO, capture_output=True, text=True, timeout=60)


def test_kfunc_models_list_load_and_unload_a_running_function(repo_server):
    target = ["--target", repo_server.url]
    loaded = kfunc_models("load", "beta", "--version", "1", *target)
    assert loaded.returncode == 0 and loaded.stdout.strip() == "beta: loaded", loaded.stderr
    listing = kfunc_models("list", *target)
    assert listing.returncode == 0, listing.stderr
    lines = listing.stdout.splitlines()
    assert lines[0].split() == ["NAME", "VERSION", "STATE", "REASON"]
    assert any(line.split()[:3] == ["beta", "1", "READY"] for line in lines)
    assert kfunc_models("unload", "beta", *target).stdout.strip() == "beta: unloaded"
    ready = kfunc_models("list", "--ready", *target).stdout
    assert "beta" not in ready and "alpha" in ready
    refused = kfunc_models("unload", "alpha", *target)
    assert refused.returncode == 1 and "model.pinned" in refused.stderr
    nameless = kfunc_models("load", *target)
    assert nameless.returncode == 3 and "needs the model's name" in nameless.stderr
    gone = kfunc_models("list", "--target", f"http://127.0.0.1:{free_port()}")
    assert gone.returncode == 4 and "cannot reach" in gone.stderr


def test_a_model_serving_a_request_is_not_evicted_under_it(serve, tmp_path):
    """The budget fits one model: a request for the other waits until the first one's request is done."""
    models = {"busy": (2, 4 * MiB, {"PREDICT_SLEEP": "1.0"}), "next": (3, 4 * MiB, {})}
    server = serve(make_function(tmp_path, models, "runtime:\n  memory-budget: 6Mi\n"), "--workers", "1")
    with ThreadPoolExecutor(2) as pool:
        busy = pool.submit(v1, server, "busy")
        time.sleep(0.4)  # busy is loaded and predicting
        started = time.monotonic()
        following = pool.submit(v1, server, "next").result()
        waited = time.monotonic() - started
        assert busy.result().json() == {"predictions": [[2.0, 4.0]]}
    assert following.json() == {"predictions": [[3.0, 6.0]]} and waited >= 0.4
    rows = index(server)
    assert rows["busy"]["state"] == "UNAVAILABLE" and "evicted" in rows["busy"]["reason"]


def test_a_model_larger_loaded_than_on_disk_waits_for_room_rather_than_overrun_the_budget(serve, tmp_path):
    """The budget fits both models' files but not what the second holds once loaded (5 MiB more
    than its file): its load waits for the first model's request to end and evicts that model."""
    models = {"busy": (2, 3 * MiB, {"PREDICT_SLEEP": "1.5"}), "big": (3, 1 * MiB, {"EXTRA": str(5 * MiB)})}
    server = serve(make_function(tmp_path, models, "runtime:\n  memory-budget: 8Mi\n"), "--workers", "1")
    resident: list[float] = []
    with ThreadPoolExecutor(2) as pool:
        busy = pool.submit(v1, server, "busy")
        time.sleep(0.5)  # busy is loaded and predicting
        big = pool.submit(v1, server, "big")
        while not big.done():
            resident.append(scrape(server.url).value("kfunc_model_resident_bytes"))
            time.sleep(0.05)
        assert big.result().json() == {"predictions": [[3.0, 6.0]]}
        assert busy.result().json() == {"predictions": [[2.0, 4.0]]}
    resident.append(scrape(server.url).value("kfunc_model_resident_bytes"))
    assert max(resident) <= 8 * MiB and resident[-1] >= 6 * MiB  # big's measured size, alone
    assert "evicted" in index(server)["busy"]["reason"]


@pytest.mark.parametrize("fmt", ["v1", "v2", "http", "cloudevent"])
def test_kfunc_invoke_asks_the_model_named_with_model(repo_server, fmt):
    done = subprocess.run([*KFUNC, "invoke", "--target", repo_server.url, "--format", fmt, "--model", "beta",
                           "--data", "[[1.0, 2.0]]"], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "10.0" in done.stdout  # beta's latest version multiplies by 5


def test_a_loading_model_does_not_hold_up_the_requests_of_loaded_models(serve, tmp_path):
    """One handler thread: while one model takes 2 s to load, a loaded model's requests are answered
    (the load runs off the handler pool), and the loading model's own requests get their answers,
    saying in Server-Timing how long they waited for the load."""
    models = {"ready": (2, 0, {}), "slow": (3, 0, {"SLEEP": "2.0"})}
    server = serve(make_function(tmp_path, models, "  pinned: [ready]\n"), "--workers", "1", "--threads", "1")
    with ThreadPoolExecutor(3) as pool:
        slow = [pool.submit(v1, server, "slow") for _ in range(2)]
        time.sleep(0.3)  # slow is loading
        started = time.monotonic()
        answer = v1(server, "ready")
        waited = time.monotonic() - started
        assert not any(future.done() for future in slow)
        assert [future.result().json() for future in slow] == [{"predictions": [[3.0, 6.0]]}] * 2
    assert answer.json() == {"predictions": [[2.0, 4.0]]} and waited < 1.0
    assert "Server-Timing" not in answer.headers
    timings = [future.result().headers["Server-Timing"] for future in slow]
    assert all(1500 < float(t.removeprefix("model-load;dur=")) < 10_000 for t in timings), timings
