"""A bare flask "hello" app, the per-request floor of flask on gunicorn, for the benchmark.

    gunicorn --workers 2 scripts.bench.flask_hello:app

It answers every POST with ``hello`` and ``/v2/health/ready`` with 200, whatever the model.
"""
from __future__ import annotations

from flask import Flask

app = Flask("hello")


@app.post("/", defaults={"path": ""})
@app.post("/<path:path>")
def hello(path: str) -> str:
    return "hello"


@app.get("/v2/health/ready")
def ready() -> str:
    return "ok"
