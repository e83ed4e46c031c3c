"""A repository listed again while the function runs: a model added later is served without a
restart (by every worker, each listing on its own), a removed one turns UNAVAILABLE (its loaded copy
serving until it is unloaded), and listings are at most one per ``model.refresh-interval``."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import requests

from functions.config import load_config
from functions.errors import ConfigError

from tests.conftest import scrape
from tests.model_repository import make_function, make_model

from .test_multimodel import index, v1, v2


def publish(repo: Path, name: str, scale: float) -> None:
    """Upload a model as a user should: written aside, then moved in whole."""
    make_model(repo.parent / f".staging-{name}", scale)
    (repo / name).parent.mkdir(parents=True, exist_ok=True)
    (repo.parent / f".staging-{name}").rename(repo / name)


def test_a_model_added_later_is_served_by_every_worker_and_a_removed_one_turns_unavailable(serve, tmp_path):
    directory = make_function(tmp_path, {"alpha": (2, 0, {})}, "  refresh-interval: 0\n")
    server = serve(directory, "--workers", "2")
    assert set(index(server)) == {"alpha"}

    publish(tmp_path / "repo", "beta", 3)
    assert [v1(server, "beta").json() for _ in range(6)] == [{"predictions": [[3.0, 6.0]]}] * 6
    assert set(index(server)) == {"alpha", "beta"}
    assert requests.get(f"{server.url}/v1/models", timeout=10).json() == {"models": ["alpha", "beta"]}
    assert scrape(server.url).value("kfunc_model_loads_total", model="beta") >= 1

    shutil.rmtree(tmp_path / "repo" / "alpha")
    row = index(server)["alpha"]
    assert row["state"] == "UNAVAILABLE" and row["reason"] == "removed from the model repository"
    answers = [v1(server, "alpha") for _ in range(4)]
    assert {a.status_code for a in answers} == {404}
    assert "'alpha' was removed from the model repository" in answers[0].json()["error"]
    assert requests.get(f"{server.url}/v1/models", timeout=10).json() == {"models": ["beta"]}

    publish(tmp_path / "repo", "alpha", 7)  # back again
    assert v1(server, "alpha").json() == {"predictions": [[7.0, 14.0]]}


def test_a_removed_model_still_loaded_serves_until_it_is_unloaded(serve, tmp_path):
    directory = make_function(tmp_path, {"alpha": (2, 0, {}), "beta/1": (3, 0, {})}, "  refresh-interval: 0\n")
    server = serve(directory, "--workers", "1")
    assert v1(server, "alpha").status_code == 200
    publish(tmp_path / "repo", "beta/2", 5)
    assert v2(server, "beta", "2").json()["outputs"][0]["data"] == [5.0, 10.0]  # named: listed again
    assert v1(server, "beta").json() == {"predictions": [[5.0, 10.0]]}  # now the latest version
    shutil.rmtree(tmp_path / "repo" / "alpha")

    row = index(server)["alpha"]
    assert row["state"] == "READY" and "removed from the model repository" in row["reason"]
    assert "serves until it is evicted or unloaded" in row["reason"]
    assert v1(server, "alpha").json() == {"predictions": [[2.0, 4.0]]}
    assert requests.post(f"{server.url}/v2/repository/models/alpha/unload", timeout=30).status_code == 200
    assert index(server)["alpha"]["state"] == "UNAVAILABLE", index(server)["alpha"]
    assert v1(server, "alpha").status_code == 404


def test_the_repository_is_listed_again_at_most_once_per_refresh_interval(serve, tmp_path):
    directory = make_function(tmp_path, {"alpha": (2, 0, {})}, "  refresh-interval: 3600\n")
    server = serve(directory, "--workers", "1")
    publish(tmp_path / "repo", "beta", 3)
    assert v1(server, "beta").status_code == 404  # listed at start, less than an hour ago
    assert set(index(server)) == {"alpha"}


def test_a_negative_refresh_interval_is_refused_naming_the_field(tmp_path):
    directory = make_function(tmp_path, {"alpha": (2, 0, {})}, "  refresh-interval: -1\n")
    with pytest.raises(ConfigError, match=r"model\.refresh-interval.*0 or more"):
        load_config(directory)
