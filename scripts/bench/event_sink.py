"""The local sink of the payload-logging benchmark: an ASGI app on gunicorn's asgi worker that
takes binary-mode CloudEvents or JSON batches of them (202) and counts them; ``GET /count`` says
how many came.

    python -m gunicorn -k gunicorn.workers.gasgi.ASGIWorker -w 1 -b 127.0.0.1:PORT scripts.bench.event_sink:app
"""
from __future__ import annotations

import json

_count = 0


async def app(scope: dict, receive, send) -> None:
    global _count
    if scope["type"] != "http":
        return
    chunks, more = [], True
    while more:
        message = await receive()
        chunks.append(message.get("body", b""))
        more = message.get("more_body", False)
    headers = dict(scope["headers"])
    if scope["method"] == "GET":
        body, status = json.dumps({"events": _count}).encode(), 200
    elif b"ce-id" in headers:
        _count += 1
        body, status = b"", 202
    elif headers.get(b"content-type", b"").startswith(b"application/cloudevents-batch+json"):
        _count += b"".join(chunks).count(b'"specversion":')  # one an event; a sink that only counts need not parse
        body, status = b"", 202
    else:
        body, status = b'{"error": "not a binary-mode CloudEvent"}', 400
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
