"""The server: one ASGI app per function (every protocol, one route table), run by gunicorn."""
