"""The s3:// sink on the real S3 test server: batched objects under PREFIX/<date>/<hour>/, one
CloudEvent a line, written when a batch fills and, at SIGTERM, what was still queued."""
from __future__ import annotations

import gzip
import json
import re
import signal
import time

import requests

from tests.logging.test_events import REQUEST, RESPONSE, _v2

KEY = re.compile(r"^logs/\d{4}-\d{2}-\d{2}/\d{2}/scorer-[\w.-]+-\d+-\d{6}\.jsonl\.gz$")


def _records(client, bucket: str) -> tuple[list[str], list[dict]]:
    keys = sorted(o["Key"] for o in client.list_objects_v2(Bucket=bucket).get("Contents", []))
    records = []
    for key in keys:
        body = client.get_object(Bucket=bucket, Key=key)["Body"].read()
        records += [json.loads(line) for line in gzip.decompress(body).splitlines()]
    return keys, records


def test_batches_go_to_s3_and_sigterm_flushes_the_rest(serve, logged_function, s3, s3_env):
    bucket = s3.new_bucket()
    function = logged_function({"url": f"s3://{bucket}/logs", "batch": {"max-events": 4, "max-delay": 60}})
    server = serve(function, "--workers", "1", env=s3_env)
    for index in range(5):  # 10 events: two full batches of 4 now, 2 left for the flush at exit
        answer = requests.post(f"{server.url}/v2/models/scorer/infer", data=_v2([index, 0, 0, 0]),
                               headers={"X-Request-Id": f"r{index}", "Content-Type": "application/json"}, timeout=10)
        assert answer.status_code == 200
    assert server.stop(signal.SIGTERM) == 0
    client = s3.client()
    keys, records = _records(client, bucket)
    assert len(keys) == 3 and all(KEY.match(key) for key in keys), keys
    assert sorted((r["id"], r["type"]) for r in records) == sorted(
        (f"r{i}", kind) for i in range(5) for kind in (REQUEST, RESPONSE))
    first = next(r for r in records if r["id"] == "r1" and r["type"] == REQUEST)
    assert first["data"] == json.loads(_v2([1, 0, 0, 0]))
    assert first["inferenceservicename"] == "scorer" and first["datacontenttype"] == "application/json"
    answer = next(r for r in records if r["id"] == "r1" and r["type"] == RESPONSE)
    assert answer["statuscode"] == 200 and answer["data"]["outputs"][0]["data"] == [2.0, 0, 0, 0]
    assert "queue flushed" in server.log()


def test_parquet_objects_hold_the_bodies_as_they_came(serve, logged_function, s3, s3_env):
    import io

    import pyarrow.parquet as pq

    bucket = s3.new_bucket()
    function = logged_function({"url": f"s3://{bucket}/pq", "format": "parquet",
                                "batch": {"max-events": 4, "max-delay": 0.5}})
    server = serve(function, "--workers", "1", env=s3_env)
    bodies = {f"p{i}": _v2([i, 1, 2, 3]) for i in range(2)}
    replies = {}
    for request_id, body in bodies.items():
        replies[request_id] = requests.post(f"{server.url}/v2/models/scorer/infer", data=body, timeout=10,
                                            headers={"X-Request-Id": request_id}).content
    client = s3.client()
    deadline = time.monotonic() + 20
    while not client.list_objects_v2(Bucket=bucket).get("Contents") and time.monotonic() < deadline:
        time.sleep(0.2)
    (item,) = client.list_objects_v2(Bucket=bucket)["Contents"]
    assert item["Key"].startswith("pq/") and item["Key"].endswith(".parquet")
    table = pq.read_table(io.BytesIO(client.get_object(Bucket=bucket, Key=item["Key"])["Body"].read())).to_pylist()
    rows = {(row["id"], row["type"]): row for row in table}
    assert len(rows) == 4
    for request_id, body in bodies.items():
        assert rows[request_id, REQUEST]["data"] == body and rows[request_id, REQUEST]["statuscode"] is None
        assert rows[request_id, RESPONSE]["data"] == replies[request_id] and not rows[request_id, RESPONSE]["truncated"]
        assert rows[request_id, RESPONSE]["statuscode"] == 200 and rows[request_id, RESPONSE]["latencyms"] > 0
