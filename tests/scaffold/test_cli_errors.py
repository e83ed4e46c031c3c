"""Every user error ends in one line naming the setting and the fix, with an exit status by meaning."""
from __future__ import annotations

import pytest

from functions.errors import ConfigError
from functions.remote import RemotePredictor
from scaffold import cli


def run(capsys, *argv: str) -> tuple[int, str]:
    status = cli.main(list(argv))
    return status, capsys.readouterr().err


@pytest.mark.parametrize("variable, value", [("PORT", "http"), ("KFUNC_WORKERS", "two"), ("KFUNC_THREADS", "-1")])
def test_a_bad_number_in_the_environment_names_the_variable(capsys, monkeypatch, tmp_path, variable, value):
    monkeypatch.setenv(variable, value)
    status, err = run(capsys, "run", str(tmp_path))
    assert status == cli.EXIT_USER == 3
    assert err.count("\n") == 1 and f"{variable}={value!r}" in err and "unset it" in err and "Traceback" not in err


def test_a_bad_listen_address_port_is_named(capsys, monkeypatch, tmp_path):
    monkeypatch.delenv("PORT", raising=False)
    monkeypatch.setenv("LISTEN_ADDRESS", "0.0.0.0:web")
    status, err = run(capsys, "run", str(tmp_path))
    assert status == 3 and "LISTEN_ADDRESS" in err and "HOST:PORT" in err


def test_a_bad_predictor_protocol_is_a_config_error_naming_the_variable():
    with pytest.raises(ConfigError, match="KFUNC_PREDICTOR_PROTOCOL='v3'.*v1, v2 or grpc"):
        RemotePredictor("predictor.ml", "m", "v3")


def test_usage_and_user_errors_have_different_statuses(capsys, tmp_path):
    with pytest.raises(SystemExit) as usage:
        cli.main(["deploy", "--no-such-option"])
    assert usage.value.code == cli.EXIT_USAGE == 2
    capsys.readouterr()
    status, err = run(capsys, "deploy", str(tmp_path / "missing"), "--dry-run")
    assert status == cli.EXIT_USER and err.startswith("kfunc deploy: ") and err.count("\n") == 1
