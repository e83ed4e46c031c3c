"""``kfunc build``: which builder runs, with what arguments, and what happens when none can.

The builders are small shell scripts put first on PATH: real processes that record their argv.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from functions.errors import ConfigError

from .conftest import edit_config, kfunc

FAKE_BUILDER = """#!/bin/sh
printf '%s\\t' "${0##*/}" "$@" >> "$FAKE_BUILDER_LOG"
printf 'DOCKER_BUILDKIT=%s\\n' "$DOCKER_BUILDKIT" >> "$FAKE_BUILDER_LOG"
if [ "$1" = info ]; then
  [ -n "$FAKE_NO_ENGINE" ] && { echo "Cannot connect to the Docker daemon at unix:///var/run/docker.sock." >&2; exit 1; }
  exit 0
fi
exit "${FAKE_BUILD_EXIT:-0}"
"""


@pytest.fixture
def builders(tmp_path, monkeypatch):
    """``builders("docker", "podman")`` puts fake builders (and nothing else) on PATH; returns their calls."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "builder.log"
    log.touch()
    monkeypatch.setenv("PATH", str(bin_dir))
    monkeypatch.setenv("FAKE_BUILDER_LOG", str(log))
    monkeypatch.delenv("DOCKER_BUILDKIT", raising=False)

    def install(*names: str) -> Path:
        for name in names:
            (bin_dir / name).write_text(FAKE_BUILDER)
            (bin_dir / name).chmod(0o755)
        return log

    return install


def calls(log: Path) -> list[list[str]]:
    """Each recorded call as [program, args..., DOCKER_BUILDKIT=...]."""
    return [line.split("\t") for line in log.read_text().splitlines()]


def test_docker_builds_the_function_with_buildkit(builders, new_function):
    log = builders("docker", "podman")
    project = new_function("pytorch")
    assert kfunc("build", project) == 0
    assert calls(log) == [
        ["docker", "info", "DOCKER_BUILDKIT="],
        ["docker", "build", "--tag", "my-pytorch:1", "--file", str(project / "Dockerfile"), str(project),
         "DOCKER_BUILDKIT=1"],
    ]


def test_push_pushes_the_named_image(builders, new_function, capsys):
    log = builders("docker")
    project = new_function("pytorch")
    assert kfunc("build", project, "--image", "registry.example.com/team/scorer:7", "--push") == 0
    assert [c[:3] for c in calls(log)[1:]] == [["docker", "build", "--tag"],
                                               ["docker", "push", "registry.example.com/team/scorer:7"]]
    assert "pushed registry.example.com/team/scorer:7" in capsys.readouterr().out


def test_the_image_defaults_to_deploy_image_from_kfunc_yaml(builders, new_function):
    log = builders("docker")
    project = new_function("pytorch")
    edit_config(project, deploy={"image": "registry.example.com/ml/churn:3"})
    assert kfunc("build", project, "--push") == 0
    assert calls(log)[-1][:3] == ["docker", "push", "registry.example.com/ml/churn:3"]


def test_push_without_a_registry_is_refused_before_building(builders, new_function):
    log = builders("docker")
    with pytest.raises(ConfigError, match="names no registry"):
        kfunc("build", new_function("pytorch"), "--push")
    assert calls(log) == []


def test_docker_without_an_engine_falls_back_to_podman(builders, new_function, monkeypatch):
    log = builders("docker", "podman")
    monkeypatch.setenv("FAKE_NO_ENGINE", "1")
    project = new_function("pytorch")
    assert kfunc("build", project) == 0
    assert [c[:2] for c in calls(log)] == [["docker", "info"], ["podman", "build"]]


def test_docker_without_an_engine_and_no_other_builder_explains_how_to_build(builders, new_function, monkeypatch,
                                                                            capsys):
    log = builders("docker")
    monkeypatch.setenv("FAKE_NO_ENGINE", "1")
    project = new_function("pytorch")
    assert kfunc("build", project) == 1
    err = capsys.readouterr().err
    assert "no Docker engine answers (Cannot connect to the Docker daemon" in err
    assert f"docker build --tag my-pytorch:1 --file {project / 'Dockerfile'} {project}" in err
    assert (project / "Dockerfile").is_file()
    assert [c[:2] for c in calls(log)] == [["docker", "info"]]


def test_no_builder_on_path_explains_how_to_build(builders, new_function, capsys):
    builders()
    project = new_function("pytorch")
    assert kfunc("build", project) == 1
    err = capsys.readouterr().err
    assert "no container builder found on PATH (looked for docker, podman, buildah)" in err
    assert str(project / "Dockerfile") in err


def test_a_requested_builder_is_used_even_when_docker_is_there(builders, new_function):
    log = builders("docker", "buildah")
    project = new_function("pytorch")
    assert kfunc("build", project, "--builder", "buildah") == 0
    assert [c[:2] for c in calls(log)] == [["buildah", "build"]]


def test_a_requested_builder_that_is_missing_is_named(builders, new_function, capsys):
    builders("docker")
    assert kfunc("build", new_function("pytorch"), "--builder", "podman") == 1
    assert "no container builder found on PATH (looked for podman)" in capsys.readouterr().err


def test_dockerfile_only_runs_no_builder(builders, new_function, capsys):
    log = builders("docker")
    project = new_function("pytorch")
    assert kfunc("build", project, "--dockerfile-only") == 0
    assert calls(log) == []
    assert f"wrote {project / 'Dockerfile'}" in capsys.readouterr().out


def test_a_failed_build_fails_the_command_and_skips_the_push(builders, new_function, monkeypatch, capsys):
    log = builders("docker")
    monkeypatch.setenv("FAKE_BUILD_EXIT", "3")
    assert kfunc("build", new_function("pytorch"), "--image", "r.example.com/x:1", "--push") == 1
    assert "docker build failed with exit code 3" in capsys.readouterr().err
    assert [c[1] for c in calls(log)] == ["info", "build"]
