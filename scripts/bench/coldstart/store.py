"""The benchmark's model store: moto's S3 server in a process of its own, the model uploaded to it."""
from __future__ import annotations

import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from scripts.bench.servers import free_port

from .spawn import stop

BUCKET = "coldstart"
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1",
               "AWS_CONFIG_FILE": "/dev/null", "AWS_SHARED_CREDENTIALS_FILE": "/dev/null"}


@contextmanager
def s3_server(log_path: Path, timeout_s: float = 30.0) -> Iterator[dict[str, str]]:
    """Run ``moto.server`` on a free loopback port; yields the environment that points boto3 at it."""
    port = free_port()
    with open(log_path, "wb") as log:
        process = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                                   stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            url = f"http://127.0.0.1:{port}"
            _wait_answering(url, process, timeout_s)
            yield {**CREDENTIALS, "AWS_ENDPOINT_URL": url}
        finally:
            stop(process)


def upload(model_dir: Path, env: dict[str, str], prefix: str = "mlp/") -> str:
    """Put every file of ``model_dir`` under ``s3://coldstart/<prefix>``; returns that URI."""
    import boto3

    client = boto3.client("s3", endpoint_url=env["AWS_ENDPOINT_URL"], region_name=env["AWS_DEFAULT_REGION"],
                          aws_access_key_id=env["AWS_ACCESS_KEY_ID"], aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"])
    client.create_bucket(Bucket=BUCKET)
    for path in sorted(p for p in model_dir.rglob("*") if p.is_file()):
        client.upload_file(str(path), BUCKET, prefix + path.relative_to(model_dir).as_posix())
    return f"s3://{BUCKET}/{prefix}"


def _wait_answering(url: str, process: subprocess.Popen, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"moto.server exited with {process.returncode}")
        try:
            with urllib.request.urlopen(url + "/moto-api/", timeout=2):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"moto.server did not answer at {url} within {timeout_s:.0f} s")
