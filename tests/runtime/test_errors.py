"""Every error a client can meet, over real HTTP: the right status and a JSON ``{"error": ...}``
that says what is wrong; the request id comes back on failures too."""
from __future__ import annotations

import base64
import gzip
import json
from typing import Iterator

import pytest
import requests

from tests.conftest import Server, function_dir

LIMIT = int(0.01 * 1024 * 1024)  # runtime.max-body-mb: 0.01 in funcs/limited/kfunc.yaml, in bytes
INFER = "/v2/models/limited/infer"


@pytest.fixture(scope="module")
def limited(serve_module) -> Server:
    return serve_module(function_dir("limited"))


@pytest.fixture(scope="module")
def broken(serve_module) -> Server:
    return serve_module(function_dir("broken"))


def error_of(answer: requests.Response, status: int) -> str:
    """The ``error`` message of a JSON error answer with ``status``."""
    assert answer.status_code == status, answer.text
    assert answer.headers["Content-Type"] == "application/json"
    body = answer.json()
    assert isinstance(body.get("error"), str) and body["error"], body
    return body["error"]


def tensor(name: str, data: list, datatype: str = "INT32", shape: list[int] | None = None) -> dict:
    return {"name": name, "datatype": datatype, "shape": shape or [1, len(data)], "data": data}


def valid_request() -> dict:
    return {"inputs": [tensor("a", [1, 2]), tensor("b", [10, 20])]}


def padded_request(size: int) -> bytes:
    """A valid V2 request made ``size`` bytes long with JSON whitespace."""
    body = json.dumps(valid_request()).encode()
    return body + b" " * (size - len(body))


def test_valid_request_is_answered(limited):
    for path in (INFER, "/v2/models/limited/versions/3/infer"):
        outputs = requests.post(limited.url + path, json=valid_request()).json()["outputs"]
        assert outputs == [{"name": "sum", "datatype": "INT32", "shape": [1, 2], "data": [11, 22]}]


@pytest.mark.parametrize("method, path", [
    ("POST", "/v1/models/nope:predict"),
    ("GET", "/v1/models/nope"),
    ("POST", "/v2/models/nope/infer"),
    ("GET", "/v2/models/nope"),
    ("GET", "/v2/models/nope/ready"),
])
def test_unknown_model_is_404_naming_the_served_one(limited, method, path):
    message = error_of(requests.request(method, limited.url + path, json=valid_request()), 404)
    assert message == "model 'nope' not found; this server serves 'limited' (see GET /v1/models or POST /v2/repository/index)"


@pytest.mark.parametrize("method, path", [
    ("POST", "/v2/models/limited/versions/9/infer"),
    ("GET", "/v2/models/limited/versions/9"),
    ("GET", "/v2/models/limited/versions/9/ready"),
])
def test_unknown_version_is_404_naming_the_served_one(limited, method, path):
    message = error_of(requests.request(method, limited.url + path, json=valid_request()), 404)
    assert message == "model 'limited' version '9' not found; it has version '3'"


def test_unknown_route_and_wrong_method_are_json(limited):
    assert "not found" in error_of(requests.get(limited.url + "/v3/whatever"), 404).lower()
    assert "not allowed" in error_of(requests.get(limited.url + INFER), 405).lower()
    assert "not allowed" in error_of(requests.delete(limited.url + "/"), 405).lower()


@pytest.mark.parametrize("method, path, allow", [
    ("GET", INFER, "OPTIONS, POST"),
    ("DELETE", "/", "OPTIONS, POST"),
    ("POST", "/v2/health/ready", "GET, HEAD, OPTIONS"),
    ("PUT", "/metrics", "GET, HEAD, OPTIONS"),
    ("POST", "/v1/models/limited", "GET, HEAD, OPTIONS"),
])
def test_405_and_options_name_the_allowed_methods(limited, method, path, allow):
    answer = requests.request(method, limited.url + path)
    assert answer.status_code == 405 and answer.headers["Allow"] == allow  # RFC 9110 15.5.6
    options = requests.options(limited.url + path)
    assert options.status_code == 200 and options.headers["Allow"] == allow


@pytest.mark.parametrize("inputs, message", [
    ([tensor("a", [1, 2, 3]), tensor("b", [1, 2])],
     "input 'a' has shape [1, 3] but the model expects [-1, 2]"),
    ([tensor("a", [1.0, 2.0], "FP32"), tensor("b", [1, 2])],
     "input 'a' has datatype FP32 but the model expects INT32"),
    ([tensor("a", [1, 2])], "missing input 'b'; the model takes a, b"),
    ([tensor("a", [1, 2]), tensor("b", [1, 2]), tensor("c", [1, 2])], "unknown input 'c'; the model takes a, b"),
    ([tensor("a", ["x", "y"]), tensor("b", [1, 2])], "input 'a': INT32 'data' holds strings; expected integers"),
], ids=["shape", "datatype", "missing", "unknown", "strings"])
def test_mismatched_v2_input_is_400_naming_the_tensor(limited, inputs, message):
    assert error_of(requests.post(limited.url + INFER, json={"inputs": inputs}), 400) == message


def test_mismatched_v1_input_is_400_naming_the_tensor(limited):
    answer = requests.post(limited.url + "/v1/models/limited:predict", json={"instances": [{"a": [1, 2]}]})
    assert error_of(answer, 400) == "missing input 'b'; the model takes a, b"


@pytest.mark.parametrize("a, message", [
    (["1", "2"], "INT32 'data' holds strings; expected integers"),
    ([True, 2], "INT32 'data' holds booleans; expected integers"),
    ([None, 2], "INT32 'data' holds nulls; expected integers"),
    ([1.5, 2], "INT32 'data' holds non-integer numbers"),
    ([2**40, 2], "a value is out of range for INT32"),
])
def test_v1_instances_are_checked_like_v2_data(limited, a, message):
    answer = requests.post(limited.url + "/v1/models/limited:predict", json={"instances": [{"a": a, "b": [1, 2]}]})
    assert message in error_of(answer, 400)


def test_body_over_the_limit_is_413_with_content_length(limited):
    answer = requests.post(limited.url + INFER, data=padded_request(LIMIT + 1))
    message = error_of(answer, 413)
    assert f"({LIMIT + 1} bytes) is over the limit of {LIMIT} bytes" in message
    assert "runtime.max-body-mb" in message
    assert requests.post(limited.url + INFER, data=padded_request(LIMIT)).status_code == 200


def test_body_over_the_limit_is_413_when_chunked(limited):
    def chunks() -> Iterator[bytes]:
        body = padded_request(3 * LIMIT)
        for start in range(0, len(body), 1000):
            yield body[start:start + 1000]

    answer = requests.post(limited.url + INFER, data=chunks())
    assert answer.request.headers["Transfer-Encoding"] == "chunked"
    assert f"is over the limit of {LIMIT} bytes" in error_of(answer, 413)


def test_gzip_body_is_decompressed(limited):
    body = gzip.compress(json.dumps(valid_request()).encode())
    answer = requests.post(limited.url + INFER, data=body, headers={"Content-Encoding": "gzip"})
    assert answer.status_code == 200, answer.text
    assert answer.json()["outputs"][0]["data"] == [11, 22]


def test_gzip_body_that_inflates_over_the_limit_is_413(limited):
    bomb = gzip.compress(padded_request(LIMIT + 1))
    assert len(bomb) < LIMIT
    answer = requests.post(limited.url + INFER, data=bomb, headers={"Content-Encoding": "gzip"})
    assert f"is over the limit of {LIMIT} bytes" in error_of(answer, 413)


@pytest.mark.parametrize("body, message", [
    (gzip.compress(json.dumps(valid_request()).encode())[:-12], "request body is truncated gzip"),
    (b"not gzip at all", "request body is not valid gzip"),
], ids=["truncated", "corrupt"])
def test_broken_gzip_is_400(limited, body, message):
    answer = requests.post(limited.url + INFER, data=body, headers={"Content-Encoding": "gzip"})
    assert message in error_of(answer, 400)


def test_unknown_content_encoding_is_415(limited):
    answer = requests.post(limited.url + INFER, data=b"{}", headers={"Content-Encoding": "br"})
    assert error_of(answer, 415) == "Content-Encoding 'br' is not supported; use gzip, deflate or none"


@pytest.mark.parametrize("path, body", [
    ("/v1/models/broken:predict", {"instances": [1, -1]}),
    ("/v2/models/broken/infer", {"inputs": [tensor("x", [1, -1], "INT64", [2])]}),
    ("/", [1, -1]),
])
def test_handler_failure_is_500_with_type_and_message_but_no_traceback(broken, path, body):
    answer = requests.post(broken.url + path, json=body)
    assert error_of(answer, 500) == "ValueError: negative input is not supported"
    assert "Traceback" not in answer.text
    assert "Traceback" in broken.log()  # the stack trace goes to the server log instead


def test_explain_without_explainer_is_404(broken):
    answer = requests.post(broken.url + "/v1/models/broken:explain", json={"instances": [1]})
    assert error_of(answer, 404) == "model broken has no explainer; add an @explainer to func.py"


@pytest.mark.parametrize("method, path, status", [
    ("POST", "/v1/models/broken:predict", 200),
    ("POST", "/v1/models/broken:predict", 400),
    ("POST", "/v2/models/nope/infer", 404),
    ("POST", "/v1/models/broken:explain", 404),
    ("GET", "/v2/health/ready", 200),
])
def test_request_id_is_echoed(broken, method, path, status):
    body = {"instances": [1, 2]} if status != 400 else {"instances": "x"}
    answer = requests.request(method, broken.url + path, json=body, headers={"X-Request-Id": "req-42"})
    assert answer.status_code == status
    assert answer.headers["X-Request-Id"] == "req-42"


def test_request_id_is_made_up_when_absent(broken):
    first, second = (requests.get(broken.url + "/v2/health/live").headers["X-Request-Id"] for _ in range(2))
    assert len(first) == 32 and first != second


def test_binary_cloudevent_without_id_names_the_missing_header(broken):
    headers = {"ce-specversion": "1.0", "ce-type": "t", "ce-source": "/s", "Content-Type": "application/json"}
    message = error_of(requests.post(broken.url + "/", data=b"[1]", headers=headers), 400)
    assert message.startswith("binary-mode CloudEvent without ce-id:")


def test_cloudevent_batch_is_415(broken):
    answer = requests.post(broken.url + "/", data=b"[]", headers={"Content-Type": "application/cloudevents-batch+json"})
    assert "send one event per request" in error_of(answer, 415)


def test_structured_cloudevent_with_binary_data_reaches_the_function_as_bytes(broken):
    event = {"specversion": "1.0", "id": "1", "type": "t", "source": "/s",
             "datacontenttype": "application/octet-stream", "data_base64": base64.b64encode(b"\x00\x01").decode()}
    answer = requests.post(broken.url + "/", data=json.dumps(event),
                           headers={"Content-Type": "application/cloudevents+json"})
    assert "this function takes JSON data" in error_of(answer, 400)


def test_v2_event_asking_for_binary_outputs_is_400_pointing_at_the_v2_route(broken):
    request = {"parameters": {"binary_data_output": True}, "inputs": [tensor("x", [1, 2], "INT64", [2])]}
    message = error_of(requests.post(broken.url + "/", json=request), 400)
    assert message == "POST / answers in JSON only; for binary outputs call /v2/models/broken/infer"


def test_zero_size_tensor_with_enormous_dims_is_400(limited):
    inputs = [tensor("a", [], shape=[0, 2**62, 2**62]), tensor("b", [1, 2])]
    error_of(requests.post(limited.url + INFER, json={"inputs": inputs}), 400)
