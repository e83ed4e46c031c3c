"""The HTTP server: a flask app per function, run by gunicorn."""
