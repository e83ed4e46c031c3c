"""The Dockerfile and .dockerignore ``kfunc build`` writes, for CPU, GPU and baked-model functions."""
from __future__ import annotations

from pathlib import Path

import pytest

from functions.errors import ConfigError

from .conftest import edit_config, kfunc


def dockerfile(project: Path, *flags: str) -> str:
    assert kfunc("build", project, "--dockerfile-only", *flags) == 0
    return (project / "Dockerfile").read_text()


def instructions(text: str) -> list[str]:
    return [line for line in text.splitlines() if line and not line.startswith((" ", "#"))]


def index_of(lines: list[str], prefix: str) -> int:
    return next(i for i, line in enumerate(lines) if line.startswith(prefix))


def test_cpu_image_is_slim_non_root_and_serves_the_function(new_function):
    text = dockerfile(new_function("pytorch"))
    lines = instructions(text)
    assert [line for line in lines if line.startswith("FROM")] == ["FROM python:3.11-slim"]
    assert lines[-3:] == ["USER 1000:1000", "EXPOSE 8080", 'ENTRYPOINT ["kfunc", "run", "/func"]']
    assert "KFUNC_CACHE_DIR=/var/cache/kfunc" in text and "HOME=/tmp" in text
    assert 'pip install --index-url https://download.pytorch.org/whl/cpu "torch==2.13.0"' in text
    assert "RUN --mount=type=cache,target=/root/.cache/pip pip install -r /func/requirements.txt" in text


def test_dependencies_are_installed_before_the_code_is_copied(new_function):
    lines = instructions(dockerfile(new_function("pytorch")))
    torch, requirements, code = (index_of(lines, p) for p in
                                 ("RUN --mount=type=cache,target=/root/.cache/pip pip install --index-url",
                                  "COPY requirements.txt", "COPY . /func"))
    assert torch < requirements < code


def test_the_model_stays_out_of_the_image_and_the_build_context_by_default(new_function):
    project = new_function("transformers")
    (project / "model").mkdir()
    (project / "model" / "config.json").write_text("{}")
    text = dockerfile(project)
    assert "KFUNC_MODEL_URI" not in text and "COPY model" not in text
    assert "model" in (project / ".dockerignore").read_text().splitlines()


@pytest.mark.parametrize("gpu_config", [{"deploy": {"gpu": {"count": 1}}}, {"runtime": {"device": "cuda"}}])
def test_a_function_that_asks_for_a_gpu_gets_a_cuda_base(new_function, gpu_config):
    project = new_function("transformers")
    edit_config(project, **gpu_config)
    text = dockerfile(project)
    assert "FROM nvidia/cuda:12.8.1-runtime-ubuntu24.04" in instructions(text)
    assert "download.pytorch.org/whl/cpu" not in text
    assert 'pip install "torch==2.13.0"' in text
    assert instructions(text)[-3] == "USER 1000:1000"


def test_a_gpu_of_another_vendor_is_refused_with_the_way_out(new_function):
    project = new_function("pytorch")
    edit_config(project, deploy={"gpu": {"vendor": "amd"}})
    with pytest.raises(ConfigError, match="deploy.gpu.vendor: kfunc build writes CUDA .* your own Dockerfile"):
        kfunc("build", project, "--dockerfile-only")


def test_bake_model_copies_the_model_once_and_points_the_runtime_at_it(new_function):
    project = new_function("transformers")
    (project / "model").mkdir()
    (project / "model" / "config.json").write_text("{}")
    text = dockerfile(project, "--bake-model")
    lines = instructions(text)
    assert "COPY model /func/model" in lines and "ENV KFUNC_MODEL_URI=/func/model" in lines
    assert "RUN rm -rf /func/model" in lines  # the code layer does not carry a second copy
    assert index_of(lines, "COPY model") < index_of(lines, "COPY --from=code /func /func")
    assert "model" not in (project / ".dockerignore").read_text().splitlines()


@pytest.mark.parametrize("uri, message", [
    (None, "model.uri is not set"),
    ("s3://bucket/models/x/", "copies a local model into the image"),
    ("/opt/elsewhere/model", "is not inside"),
    ("weights", "does not exist"),
])
def test_bake_model_explains_what_it_cannot_bake(new_function, uri, message):
    project = new_function("pytorch")
    edit_config(project, model={"platform": "pytorch", **({"uri": uri} if uri else {})})
    with pytest.raises(ConfigError, match=message):
        kfunc("build", project, "--dockerfile-only", "--bake-model")


def test_a_dockerfile_the_user_wrote_is_kept(new_function, capsys):
    project = new_function("pytorch")
    (project / "Dockerfile").write_text("FROM example.com/our-base:1\n")
    assert kfunc("build", project, "--dockerfile-only") == 0
    assert f"using your own {project / 'Dockerfile'}" in capsys.readouterr().out
    assert (project / "Dockerfile").read_text() == "FROM example.com/our-base:1\n"
    with pytest.raises(ConfigError, match="is your own"):
        kfunc("build", project, "--dockerfile-only", "--bake-model")


def test_a_dockerfile_kfunc_wrote_is_rewritten_when_the_config_changes(new_function):
    project = new_function("pytorch")
    assert "python:3.11-slim" in dockerfile(project)
    edit_config(project, deploy={"gpu": {"count": 2}})
    assert "nvidia/cuda" in dockerfile(project)


def test_the_runtime_from_this_checkout_is_staged_into_the_build_context(new_function):
    project = new_function("cloudevents")
    text = dockerfile(project)
    assert "--mount=type=bind,source=.kfunc/kfunc,target=/tmp/kfunc-src" in text
    staged = project / ".kfunc" / "kfunc"
    assert (staged / "pyproject.toml").is_file() and (staged / "functions" / "sdk.py").is_file()
    assert not list(staged.rglob("__pycache__"))


def test_no_torch_and_no_requirements_mean_no_such_layers(new_function):
    project = new_function("cloudevents")
    assert "torch==" not in dockerfile(project)
    (project / "requirements.txt").unlink()
    assert "requirements.txt" not in dockerfile(project)


def test_a_directory_without_kfunc_yaml_is_explained(tmp_path):
    with pytest.raises(ConfigError, match="kfunc.yaml: not found"):
        kfunc("build", tmp_path, "--dockerfile-only")
