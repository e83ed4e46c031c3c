"""The test-only ASGI app gunicorn serves in these tests: application/grpc to ``GrpcApp``, and
``start_grpc_server`` on ``KFUNC_TEST_GRPC_PORT`` started on the worker's loop at lifespan startup,
for the function in ``KFUNC_TEST_FUNCTION`` (loaded in the background, retried until it loads)."""
from __future__ import annotations

import os
import threading
import time

from functions import telemetry
from functions.function import Function
from functions.server.grpc_aio import start_grpc_server
from functions.server.grpc_asgi import CONTENT_TYPE, GrpcApp

function = Function.from_directory(os.environ["KFUNC_TEST_FUNCTION"])
grpc_app = GrpcApp(function)


def _load() -> None:
    while True:
        try:
            function.load()
        except Exception:
            time.sleep(0.1)
        else:
            function.finish_start()
            return


async def app(scope: dict, receive, send) -> None:
    if scope["type"] == "lifespan":
        await _lifespan(receive, send)
        return
    content_type = dict(scope.get("headers", [])).get(b"content-type", b"")
    if scope["type"] == "http" and content_type.startswith(CONTENT_TYPE.encode()):
        await grpc_app(scope, receive, send)
        return
    await send({"type": "http.response.start", "status": 404, "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": b"not found"})


async def _lifespan(receive, send) -> None:
    server = None
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            telemetry.configure_tracing(function.name)  # OTEL_TRACES_EXPORTER=console in a test prints spans
            threading.Thread(target=_load, daemon=True).start()
            server = await start_grpc_server(function, int(os.environ["KFUNC_TEST_GRPC_PORT"]), "127.0.0.1")
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            if server is not None:
                await server.stop(1)
            await send({"type": "lifespan.shutdown.complete"})
            return
