"""A function's own HTTP routes (``functions.routes``): its flask Blueprints or app, served from
the ASGI app through a2wsgi on a thread pool of their own."""
from __future__ import annotations

from typing import Any

from ..errors import ConfigError
from ..function import Function


def user_app(function: Function, threads: int) -> Any | None:
    """The ASGI app of ``function``'s own routes, or None when it has none."""
    registered = function.handlers.routes
    if not registered:
        return None
    from a2wsgi import WSGIMiddleware  # flask and a2wsgi only for a function with routes of its own
    from flask import Flask
    apps = [app for app in registered if isinstance(app, Flask)]
    if len(apps) > 1 or (apps and len(registered) > 1):
        raise ConfigError("func.py passes functions.routes() one flask app, or any number of Blueprints, not both")
    flask_app = apps[0] if apps else _json_errors(Flask(function.name))
    for blueprint in registered if not apps else ():
        flask_app.register_blueprint(blueprint)
    return WSGIMiddleware(flask_app, workers=threads)


def _json_errors(app: Any) -> Any:
    """Answer the flask app's HTTP errors (404 for an unknown path...) as ``{"error": ...}``, as the
    protocols do."""
    from flask import jsonify
    from werkzeug.exceptions import HTTPException

    def as_json(exc: HTTPException):
        return jsonify(error=exc.description or exc.name), exc.code or 500

    app.register_error_handler(HTTPException, as_json)
    return app
