"""``kfunc invoke``: send one request to a running function, over HTTP, CloudEvents, V1, V2 or V2 gRPC."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import urllib3
from cloudevents.conversion import to_binary
from cloudevents.http import CloudEvent

from functions.config import CONFIG_FILE, load_config
from functions.errors import ConfigError, KFuncError
from functions.protocol import v2
from functions.protocol.jsonutil import dumps, loads
from functions.datatypes import to_numpy_dtype

FORMATS = ("http", "cloudevent", "v1", "v2", "grpc")


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("invoke", help="send a request to a running function and print the answer")
    parser.add_argument("path", nargs="?", default=".", help="function directory, for its model name (default: .)")
    parser.add_argument("--target", default="http://localhost:8080", help="function URL (default: http://localhost:8080)")
    parser.add_argument("--format", choices=FORMATS, default="http",
                        help="http: plain JSON POST /; cloudevent: binary-mode event; v1/v2: KServe protocols; "
                             "grpc: V2 ModelInfer over gRPC (--target host:port)")
    parser.add_argument("--data", default=None,
                        help="JSON, or @FILE; default: zeros shaped like the model's first input")
    parser.add_argument("--model", default=None,
                        help="the model to ask, for a function serving several (kfunc models list shows them)")
    parser.add_argument("--type", default="kfunc.invoke", help="CloudEvent type (--format cloudevent)")
    parser.add_argument("--source", default="/kfunc/invoke", help="CloudEvent source (--format cloudevent)")
    parser.set_defaults(func=invoke)


def invoke(args: argparse.Namespace) -> int:
    target = args.target.rstrip("/")
    if args.format == "grpc":
        return _invoke_grpc(args, target)
    http = urllib3.PoolManager(retries=urllib3.Retry(total=2, backoff_factor=0.2))
    name = args.model or _model_name(args.path, target, http)
    metadata = _get_json(http, f"{target}/v2/models/{name}")
    data = _data(args.data, metadata)
    url, headers, body = _request(args, target, name, data, metadata)
    try:
        answer = http.request("POST", url, body=body, headers=headers, timeout=120)
    except urllib3.exceptions.HTTPError as exc:
        raise KFuncError(f"cannot reach {url}: {exc}; is the function running (kfunc run)?") from None
    for key, value in answer.headers.items():
        if key.lower().startswith("ce-"):
            print(f"{key}: {value}", file=sys.stderr)
    _print_body(answer)
    return 0 if answer.status < 400 else 1


def _invoke_grpc(args: argparse.Namespace, target: str) -> int:
    from .invoke_grpc import invoke_grpc  # grpcio only for this format

    if not args.model and not (Path(args.path) / CONFIG_FILE).is_file():
        raise ConfigError(f"{args.path}: no {CONFIG_FILE} here; pass the function directory (for its model name) "
                          "or --model")
    data = _data(args.data, {}) if args.data is not None else None
    print(json.dumps(invoke_grpc(target, args.model or load_config(args.path).name, data), indent=2))
    return 0


def _model_name(path: str, target: str, http: urllib3.PoolManager) -> str:
    if (Path(path) / CONFIG_FILE).is_file():
        return load_config(path).name
    models = _get_json(http, f"{target}/v1/models").get("models") or []
    if not models:
        raise ConfigError(f"{path}: no {CONFIG_FILE} here and {target} lists no models; pass the function directory")
    return models[0]


def _get_json(http: urllib3.PoolManager, url: str) -> dict:
    try:
        answer = http.request("GET", url, timeout=10)
    except urllib3.exceptions.HTTPError as exc:
        raise KFuncError(f"cannot reach {url}: {exc}; is the function running (kfunc run)?") from None
    return loads(answer.data) if answer.status == 200 else {}


def _data(raw: str | None, metadata: dict) -> Any:
    if raw is None:
        inputs = metadata.get("inputs") or []
        if not inputs:
            return {"message": "Hello World"}
        first = inputs[0]
        shape = [1 if d < 0 else d for d in first["shape"]]
        dtype = to_numpy_dtype(first["datatype"])
        return np.zeros(shape, dtype=dtype if dtype != object else "<U1").tolist()
    text = Path(raw[1:]).read_text() if raw.startswith("@") else raw
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"--data is not valid JSON: {exc}") from None


def _request(args: argparse.Namespace, target: str, name: str, data: Any, metadata: dict):
    json_headers = {"Content-Type": "application/json"}
    if args.format == "http":
        return f"{target}/", {**json_headers, **({"X-Kfunc-Model": args.model} if args.model else {})}, dumps(data)
    if args.format == "cloudevent":
        attributes = {"type": args.type, "source": args.source, **({"model": args.model} if args.model else {})}
        headers, body = to_binary(CloudEvent(attributes, data), data_marshaller=dumps)
        return f"{target}/", dict(headers), body
    if args.format == "v1":
        payload = data if isinstance(data, dict) and ("instances" in data or "inputs" in data) else {"instances": data}
        return f"{target}/v1/models/{name}:predict", json_headers, dumps(payload)
    if isinstance(data, dict) and "inputs" in data:
        return f"{target}/v2/models/{name}/infer", json_headers, dumps(data)
    first = (metadata.get("inputs") or [{"name": "input-0", "datatype": "FP32"}])[0]
    array = np.asarray(data, dtype=to_numpy_dtype(first["datatype"]))
    tensor = v2.InferTensor(name=first["name"], datatype=first["datatype"], shape=list(array.shape), data=array)
    body, headers = v2.encode_request([tensor], binary=False)
    return f"{target}/v2/models/{name}/infer", {**json_headers, **headers}, body


def _print_body(answer: urllib3.BaseHTTPResponse) -> None:
    try:
        print(json.dumps(json.loads(answer.data), indent=2))
    except ValueError:
        sys.stdout.buffer.write(answer.data + b"\n")
