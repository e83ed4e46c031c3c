"""Fixtures of the payload-log tests: a CloudEvents receiver, function directories with a
``logger:`` section, the S3 test server of tests/store."""
from __future__ import annotations

import shutil
from pathlib import Path
from typing import Iterator

import pytest
import yaml

from tests.logging.receiver import Receiver
from tests.store.conftest import FAKE_CREDENTIALS, S3Server, s3  # noqa: F401  (s3: the store tests' S3 server)

FUNCS = Path(__file__).parent / "funcs"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    sink = Receiver()
    yield sink
    sink.stop()


def with_logger(source: Path, target: Path, logger: dict) -> Path:
    """A copy of the function directory ``source`` at ``target``, with that ``logger:`` section."""
    shutil.copytree(source, target)
    config = yaml.safe_load((target / "kfunc.yaml").read_text())
    (target / "kfunc.yaml").write_text(yaml.safe_dump({**config, "logger": logger}))
    return target


@pytest.fixture
def logged_function(tmp_path):
    """``logged_function(logger={...})``: a copy of the scorer function with that ``logger:`` section."""

    def make(logger: dict, name: str = "scorer") -> Path:
        return with_logger(FUNCS / name, tmp_path / f"{name}-{len(list(tmp_path.iterdir()))}", logger)

    return make


@pytest.fixture
def s3_env(s3: S3Server) -> dict[str, str]:
    """The environment that points boto3 (the model store's client) at the test S3 server."""
    return {**FAKE_CREDENTIALS, "AWS_ENDPOINT_URL": s3.url}
