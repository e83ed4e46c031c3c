"""A real S3 server on loopback (moto's ThreadedMotoServer) with its request log, and AWS env for boto3."""
from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import boto3
import pytest
import requests

from functions.store import CacheSettings, StoreSettings

FAKE_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}


@dataclass
class Request:
    """One request the S3 server received."""

    method: str
    path: str
    range: str | None
    if_match: str | None


@dataclass
class S3Server:
    """A running moto S3 server; ``requests()`` lists what it served since ``start_log()``."""

    url: str
    stop: object

    def client(self):
        return boto3.client("s3", endpoint_url=self.url, aws_access_key_id="testing",
                            aws_secret_access_key="testing", region_name="us-east-1")

    def new_bucket(self) -> str:
        name = f"models-{uuid.uuid4().hex[:12]}"
        self.client().create_bucket(Bucket=name)
        return name

    def put(self, bucket: str, objects: dict[str, bytes]) -> None:
        client = self.client()
        for key, body in objects.items():
            client.put_object(Bucket=bucket, Key=key, Body=body)

    def start_log(self) -> None:
        requests.post(f"{self.url}/moto-api/recorder/reset-recording", timeout=5).raise_for_status()
        requests.post(f"{self.url}/moto-api/recorder/start-recording", timeout=5).raise_for_status()

    def requests(self) -> list[Request]:
        text = requests.get(f"{self.url}/moto-api/recorder/download-recording", timeout=5).text
        entries = [json.loads(line) for line in text.splitlines() if line]
        return [Request(e["method"], e["url"].split(self.url, 1)[-1], e["headers"].get("Range"),
                        e["headers"].get("If-Match")) for e in entries]

    def gets(self, bucket: str, key: str) -> list[Request]:
        return [r for r in self.requests() if r.method == "GET" and r.path == f"/{bucket}/{key}"]


def start_s3_server(log_dir: Path) -> S3Server:
    """Start a ThreadedMotoServer on a free loopback port; its request log goes to ``log_dir``."""
    os.environ.setdefault("MOTO_RECORDER_FILEPATH", str(log_dir / "moto-requests.jsonl"))
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    return S3Server(f"http://{host}:{port}", server.stop)


@pytest.fixture(scope="session")
def s3(tmp_path_factory) -> Iterator[S3Server]:
    """One S3 server for the session."""
    server = start_s3_server(tmp_path_factory.mktemp("moto"))
    yield server
    server.stop()


@pytest.fixture
def aws_env(monkeypatch, s3: S3Server) -> dict[str, str]:
    """Fake credentials and ``AWS_ENDPOINT_URL`` for the session server; no user AWS config leaks in."""
    env = {**FAKE_CREDENTIALS, "AWS_ENDPOINT_URL": s3.url, "AWS_CONFIG_FILE": os.devnull,
           "AWS_SHARED_CREDENTIALS_FILE": os.devnull}
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL_S3", "KFUNC_CACHE_DIR"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


@pytest.fixture
def cache(tmp_path) -> CacheSettings:
    return CacheSettings(dir=str(tmp_path / "cache"))


@pytest.fixture
def store() -> StoreSettings:
    """Small multipart threshold and chunks, so a 3 MiB object takes several ranged GETs."""
    return StoreSettings(multipart_threshold="1Mi", multipart_chunksize="512Ki", max_concurrency=4, max_attempts=1)


def read_tree(root: Path) -> dict[str, bytes]:
    """Every regular file under ``root`` by relative POSIX path."""
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}
