"""The ``logger:`` section: typed, every mistake named with its field, the environment winning."""
from __future__ import annotations

import subprocess

import pytest

from functions.errors import ConfigError
from functions.payload_log.config import logger_settings
from tests.conftest import KFUNC, REPO


def test_defaults_are_off_and_bounded():
    settings = logger_settings({}, environ={})
    assert not settings.enabled
    assert (settings.mode, settings.on_full, settings.sample_rate) == ("all", "drop", 1.0)
    assert settings.queue.max_events == 10000 and settings.queue.max_bytes_value == 64 * 2**20


def test_the_environment_wins():
    settings = logger_settings({"url": "http://file/", "mode": "all"},
                               environ={"KFUNC_LOGGER_URL": "s3://logs/p", "KFUNC_LOGGER_MODE": "Response"})
    assert (settings.url, settings.mode, settings.is_object_store) == ("s3://logs/p", "response", True)


@pytest.mark.parametrize(("raw", "environ", "message"), [
    ({"url": "ftp://x"}, {}, "logger.url: 'ftp://x' is not a sink"),
    ({"mode": "both"}, {}, "logger.mode: 'both' is not allowed"),
    ({"sample-rate": 1.5}, {}, "logger.sample-rate: must be between 0 and 1"),
    ({"queue": {"max-bytes": "lots"}}, {}, "logger.queue.max-bytes: 'lots' is not a size"),
    ({"batch": {"max-delay": 0}}, {}, "logger.batch.max-delay: must be greater than 0"),
    ({"on-full": "wait"}, {}, "logger.on-full: 'wait' is not allowed"),
    ({"format": "csv"}, {}, "logger.format: 'csv' is not allowed"),
    ({"metadata-header": []}, {}, "logger.metadata-header: unknown field; did you mean 'metadata-headers'"),
    ({"url": "broker:default", "encoding": "batch"}, {}, "logger.encoding: batch is for http(s) receivers"),
    ({}, {"KFUNC_LOGGER_MODE": "both"}, "KFUNC_LOGGER_MODE='both': use one of all, request, response"),
    ({}, {"KFUNC_LOGGER_URL": "logs"}, "KFUNC_LOGGER_URL='logs': 'logs' is not a sink"),
])
def test_mistakes_name_the_field(raw, environ, message):
    with pytest.raises(ConfigError) as caught:
        logger_settings(raw, environ=environ)
    assert message in str(caught.value)


def test_kfunc_run_refuses_a_bad_logger_section(logged_function):
    function = logged_function({"url": "http://127.0.0.1:9/", "sample-rate": -1})
    done = subprocess.run([*KFUNC, "run", str(function), "--port", "0"], cwd=REPO, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 3, done.stderr
    assert "logger.sample-rate: must be between 0 and 1" in done.stderr
