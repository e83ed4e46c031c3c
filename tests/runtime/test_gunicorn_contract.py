"""The gunicorn 27 API kfunc's server builds on (functions/server/gunicorn_app.py, worker.py): if an
upgrade moves any of it, these fail before a user's server does."""
from __future__ import annotations

import inspect

import pytest
from gunicorn.app.base import BaseApplication
from gunicorn.asgi.protocol import ASGIProtocol
from gunicorn.config import Config
from gunicorn.workers.gasgi import ASGIWorker

from functions.server.gunicorn_app import FunctionServer

SETTINGS = ["bind", "workers", "worker_class", "asgi_lifespan", "http_parser", "http_protocols", "http2_cleartext",
            "reuse_port", "preload_app", "timeout", "graceful_timeout", "keepalive", "accesslog", "errorlog",
            "loglevel", "proc_name", "on_starting", "when_ready", "on_exit", "pre_fork", "post_fork",
            "post_worker_init", "child_exit", "control_socket_disable"]


@pytest.mark.parametrize("name", SETTINGS)
def test_every_setting_kfunc_sets_exists(name):
    assert name in Config().settings


@pytest.mark.parametrize("name, value", [("http_parser", "fast"), ("http_protocols", "h2,h1"),
                                         ("http2_cleartext", "both"), ("asgi_lifespan", "off")])
def test_the_values_kfunc_sets_are_accepted(name, value):
    config = Config()
    config.set(name, value)
    assert config.settings[name].get() in (value, ["h2", "h1"])


def test_the_c_parser_is_installed():
    import gunicorn_h1c
    assert hasattr(gunicorn_h1c, "H1CProtocol") and hasattr(gunicorn_h1c, "LimitRequestLine")


def test_the_asgi_worker_has_what_the_kfunc_worker_uses():
    for name in ("init_process", "handle_exit_signal", "run", "notify", "load_wsgi"):
        assert callable(getattr(ASGIWorker, name))
    assert "worker" in inspect.signature(ASGIProtocol).parameters


def test_the_asgi_protocol_is_an_asyncio_protocol_with_an_app():
    for name in ("connection_made", "data_received", "connection_lost", "eof_received", "pause_writing",
                 "resume_writing"):
        assert callable(getattr(ASGIProtocol, name))
    assert "self.app = worker.asgi" in inspect.getsource(ASGIProtocol.__init__)


def test_function_server_is_a_base_application():
    assert issubclass(FunctionServer, BaseApplication)
    assert {"load_config", "load"} <= set(vars(FunctionServer))
