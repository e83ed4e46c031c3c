"""Errors a handler or the runtime raises; each maps to one HTTP status with a JSON body."""
from __future__ import annotations


class KFuncError(Exception):
    """Base class: ``status`` is the HTTP status, ``str(exc)`` the ``{"error": ...}`` message."""

    status = 500

    def headers(self) -> dict[str, str]:
        """Extra response headers the error's answer carries."""
        return {}


class InvalidInput(KFuncError):
    """Malformed or mismatched request input (bad JSON, shape, datatype, missing tensor)."""

    status = 400


class ModelNotFound(KFuncError):
    """The request names a model (or version) this function does not serve."""

    status = 404


class RouteNotFound(KFuncError):
    """No endpoint serves the request's path."""

    status = 404


class MethodNotAllowed(KFuncError):
    """The path is served, but not for the request's method; ``allowed`` lists those it takes."""

    status = 405

    def __init__(self, message: str, allowed: tuple[str, ...]) -> None:
        super().__init__(message)
        self.allowed = allowed

    def headers(self) -> dict[str, str]:
        return {"Allow": ", ".join(self.allowed)}


class ModelNotReady(KFuncError):
    """The model is still loading, or its load failed and is being retried."""

    status = 503


class PayloadTooLarge(KFuncError):
    """The request body is over the configured limit."""

    status = 413


class UnsupportedMediaType(KFuncError):
    """The request's Content-Type or Content-Encoding is not one the endpoint accepts."""

    status = 415


class ConfigError(KFuncError):
    """A function's ``kfunc.yaml`` or ``func.py`` is invalid; the message names the field and the fix."""


class RemotePredictorError(KFuncError):
    """The remote predictor (``KFUNC_PREDICTOR_HOST``) failed or answered with an error."""

    status = 502


class GenerationFailed(KFuncError):
    """The generation engine's process failed a step or exited; the next request starts a new one."""


class Overloaded(KFuncError):
    """More requests than the server takes at once (running and queued); retry after a while."""

    status = 429

    def __init__(self, message: str, retry_after_s: int = 1) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after_s)}
