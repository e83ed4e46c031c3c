"""Every request of a mixed run (V1, V2 JSON and binary, CloudEvents, gRPC, malformed and failing
requests) reaches a real CloudEvents receiver as KServe's logger would send it: the right types,
the request's id on both events, the bodies exactly as they went in and out."""
from __future__ import annotations

import json
import time

import numpy as np
import pytest
import requests
import tritonclient.grpc as grpcclient
import tritonclient.http as httpclient
from cloudevents.conversion import to_binary, to_structured
from cloudevents.http import CloudEvent
from tritonclient.utils import InferenceServerException

from functions.protocol.grpc_gen import open_inference_grpc_pb2 as pb
from tests.conftest import scrape

REQUEST, RESPONSE = "org.kubeflow.serving.inference.request", "org.kubeflow.serving.inference.response"
ROW = [1.0, 2.0, 3.0, 4.0]
TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


def _v2(row: list[float]) -> bytes:
    return json.dumps({"inputs": [{"name": "x", "datatype": "FP32", "shape": [1, 4], "data": row}]}).encode()


def _sent(url: str) -> list[dict]:
    """Send the mixed run; each entry: what went in and what came back."""
    runs = []

    def post(path: str, body: bytes, headers: dict[str, str], kind: str) -> None:
        answer = requests.post(url + path, data=body, headers=headers, timeout=10)
        runs.append({"kind": kind, "id": headers.get("X-Request-Id") or headers.get("ce-id")
                     or answer.headers["X-Request-Id"], "body": body, "content_type": answer.request.headers.get("Content-Type"),
                     "status": answer.status_code, "reply": answer.content,
                     "reply_type": answer.headers["Content-Type"],
                     "header_size": headers.get("Inference-Header-Content-Length"),
                     "reply_header_size": answer.headers.get("Inference-Header-Content-Length")})

    json_type = {"Content-Type": "application/json"}
    post("/v1/models/scorer:predict", json.dumps({"instances": [ROW]}).encode(),
         {**json_type, "X-Request-Id": "v1-ok", "X-User": "alice", "traceparent": TRACEPARENT}, "v1")
    post("/v2/models/scorer/infer", _v2(ROW), {**json_type, "X-Request-Id": "v2-json"}, "v2")
    post("/v2/models/scorer/infer", _v2(ROW), json_type, "v2-no-id")
    inputs = [httpclient.InferInput("x", [1, 4], "FP32")]
    inputs[0].set_data_from_numpy(np.array([ROW], dtype=np.float32), binary_data=True)
    body, header_size = httpclient.InferenceServerClient.generate_request_body(
        inputs, outputs=[httpclient.InferRequestedOutput("y", binary_data=True)])
    post("/v2/models/scorer/infer", body, {"Content-Type": "application/octet-stream", "X-Request-Id": "v2-binary",
                                           "Inference-Header-Content-Length": str(header_size)}, "v2-binary")
    event = CloudEvent({"type": "com.example.score", "source": "/test", "id": "ce-binary",
                        "datacontenttype": "application/json"}, {"instances": [ROW]})
    headers, body = to_binary(event)
    post("/", body, dict(headers), "cloudevent")
    headers, body = to_structured(CloudEvent({"type": "com.example.score", "source": "/test"}, {"instances": [ROW]}))
    post("/", body, {**headers, "X-Request-Id": "ce-structured"}, "cloudevent-structured")
    post("/v2/models/scorer/infer", b'{"inputs": [', {**json_type, "X-Request-Id": "bad-json"}, "malformed")
    post("/v1/models/scorer:predict", b'{"instances": [[1, 2]]}', {**json_type, "X-Request-Id": "bad-shape"}, "bad-shape")
    post("/v2/models/scorer/infer", _v2([-1.0, 0, 0, 0]), {**json_type, "X-Request-Id": "fails"}, "handler-error")
    return runs


def _logged_type(content_type: str) -> str:
    """A structured CloudEvent body is logged as application/json (else receivers would take the
    logged event for a structured one); every other content type is kept."""
    return "application/json" if content_type.startswith("application/cloudevents+json") else content_type


def _grpc(url: str) -> list[str]:
    client = grpcclient.InferenceServerClient(url.removeprefix("http://"))
    inputs = [grpcclient.InferInput("x", [1, 4], "FP32")]
    inputs[0].set_data_from_numpy(np.array([ROW], dtype=np.float32))
    client.infer("scorer", inputs, request_id="grpc-ok")
    with pytest.raises(InferenceServerException):
        client.infer("nope", inputs, request_id="grpc-missing")
    client.close()
    return ["grpc-ok", "grpc-missing"]


def test_mixed_run_is_logged_as_kserve_events(serve, receiver, logged_function):
    function = logged_function({"metadata-headers": ["x-user"]})
    server = serve(function, "--workers", "1", env={"KFUNC_LOGGER_URL": receiver.url})
    runs = _sent(server.url)
    grpc_ids = _grpc(server.url)
    events = receiver.wait_for(2 * (len(runs) + len(grpc_ids)))
    by_id: dict[str, dict[str, CloudEvent]] = {}
    for event in events:
        by_id.setdefault(event["id"], {})[event["type"]] = event
    assert sorted(by_id) == sorted([run["id"] for run in runs] + grpc_ids)
    for run in runs:
        logged = by_id[run["id"]]
        request, response = logged[REQUEST], logged[RESPONSE]
        assert request.get_data() == run["body"], run["kind"]
        assert request["datacontenttype"] == _logged_type(run["content_type"]), run["kind"]
        assert response.get_data() == run["reply"], run["kind"]
        assert response["datacontenttype"] == _logged_type(run["reply_type"]), run["kind"]
        assert int(response["statuscode"]) == run["status"], run["kind"]
        assert float(response["latencyms"]) > 0
        for event in (request, response):
            assert (event["inferenceservicename"], event["namespace"], event["component"], event["endpoint"]) == \
                ("scorer", "default", "predictor", "default")
    statuses = {run["kind"]: run["status"] for run in runs}
    assert statuses == {"v1": 200, "v2": 200, "v2-no-id": 200, "v2-binary": 200, "cloudevent": 200,
                        "cloudevent-structured": 200, "malformed": 400, "bad-shape": 400, "handler-error": 500}
    assert json.loads(by_id["bad-json"][RESPONSE].get_data())["error"]
    assert json.loads(by_id["v1-ok"][REQUEST]["metadata"]) == {"X-User": ["alice"]}
    assert json.loads(by_id["v2-json"][REQUEST]["metadata"]) == {}
    assert by_id["v1-ok"][REQUEST]["traceparent"] == by_id["v1-ok"][RESPONSE]["traceparent"] == TRACEPARENT
    binary = next(run for run in runs if run["kind"] == "v2-binary")
    assert by_id["v2-binary"][REQUEST]["binaryheadersize"] == binary["header_size"]
    assert by_id["v2-binary"][RESPONSE]["binaryheadersize"] == binary["reply_header_size"] is not None
    grpc_ok = by_id["grpc-ok"]
    assert pb.ModelInferRequest.FromString(grpc_ok[REQUEST].get_data()).id == "grpc-ok"
    answer = pb.ModelInferResponse.FromString(grpc_ok[RESPONSE].get_data())
    assert answer.model_name == "scorer" and int(grpc_ok[RESPONSE]["statuscode"]) == 200
    missing = by_id["grpc-missing"][RESPONSE]
    assert int(missing["statuscode"]) == 404 and json.loads(missing.get_data())["code"] == "NOT_FOUND"
    metrics = scrape(server.url)
    assert metrics.value("kfunc_logger_events_total", outcome="sent") == len(events)
    assert metrics.value("kfunc_logger_events_total", outcome="queued") == len(events)
    assert metrics.value("kfunc_logger_events_total", outcome="dropped") == 0
    assert receiver.connections <= 4  # kept-alive: at most one connection per sender thread, not one per event


def test_batch_encoding_sends_json_batches(serve, receiver, logged_function):
    function = logged_function({"encoding": "batch", "batch": {"max-events": 8, "max-delay": 0.2}})
    server = serve(function, "--workers", "1", env={"KFUNC_LOGGER_URL": receiver.url})
    bodies = {f"b{i}": _v2([i, 0, 0, 0]) for i in range(12)}
    replies = {}
    for request_id, body in bodies.items():
        answer = requests.post(f"{server.url}/v2/models/scorer/infer", data=body, timeout=10,
                               headers={"Content-Type": "application/json", "X-Request-Id": request_id})
        replies[request_id] = answer.json()
    bad = requests.post(f"{server.url}/v2/models/scorer/infer", data=b'{"inputs": [', timeout=10,
                        headers={"Content-Type": "application/json", "X-Request-Id": "bad"})
    events = receiver.wait_for(2 * len(bodies) + 2)
    assert receiver.posts < len(events) / 2  # batched, not one POST an event
    for event in events:
        if event["id"] == "bad":
            assert event.get_data() == (b'{"inputs": [' if event["type"] == REQUEST else bad.json())
            continue
        expected = json.loads(bodies[event["id"]]) if event["type"] == REQUEST else replies[event["id"]]
        assert event.get_data() == expected
        assert event["inferenceservicename"] == "scorer"
    assert sorted(e["id"] for e in events if e["type"] == RESPONSE) == sorted([*bodies, "bad"])


def test_a_failing_sink_is_retried_and_nothing_is_lost(serve, receiver, logged_function):
    receiver.status = 503
    server = serve(logged_function({}), "--workers", "1", env={"KFUNC_LOGGER_URL": receiver.url})
    for index in range(3):
        answer = requests.post(f"{server.url}/v2/models/scorer/infer", data=_v2(ROW), timeout=10,
                               headers={"Content-Type": "application/json", "X-Request-Id": f"r{index}"})
        assert answer.status_code == 200  # the sink's failure is not the request's
    time.sleep(0.3)
    receiver.status = 202
    events = receiver.wait_for(6)
    assert sorted({e["id"] for e in events}) == ["r0", "r1", "r2"]
    metrics = scrape(server.url)
    assert metrics.value("kfunc_logger_retries_total") > 0
    assert metrics.value("kfunc_logger_events_total", outcome="sent") == 6
    assert metrics.value("kfunc_logger_events_total", outcome="failed") == 0
    assert metrics.value("kfunc_logger_sink_duration_seconds_count") > 6
