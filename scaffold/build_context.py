"""Get a function directory ready for an image build: read its config and requirements, stage the
kfunc runtime, write the Dockerfile and .dockerignore (unless the user wrote their own)."""
from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import functions
from functions.config import FunctionConfig, load_config
from functions.errors import ConfigError
from functions.store.uri import LocalUri, parse_uri
from knative.settings import DeploySettings, load_deploy_settings

from .dockerfile import MARKER, RUNTIME_STAGE_DIR, ImageSpec, render_dockerfile, render_dockerignore

REQUIREMENTS = "requirements.txt"
TORCH_PACKAGES = {"torch", "torchvision", "torchaudio"}
RUNTIME_PACKAGES = ("functions", "scaffold", "knative", "istio")
_REQUIREMENT_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


@dataclass(frozen=True)
class BuildContext:
    """A prepared function directory: its Dockerfile, whether kfunc wrote it, the image it names."""

    directory: Path
    dockerfile: Path
    spec: ImageSpec
    generated: bool
    image: str


def prepare(function_dir: Path, *, bake_model: bool = False) -> BuildContext:
    """Validate ``kfunc.yaml``, stage the runtime, write the build files; ConfigError names what to fix."""
    directory = function_dir.resolve()
    config = load_config(directory)
    deploy = load_deploy_settings(config)
    dockerfile = directory / "Dockerfile"
    generated = _ours_or_absent(dockerfile)
    if bake_model and not generated:
        raise ConfigError(f"--bake-model needs the Dockerfile kfunc writes, but {dockerfile} is your own; "
                          "copy the model in there yourself, or delete the file to let kfunc write one")
    spec = ImageSpec(
        name=config.name,
        version=config.version,
        gpu=wants_gpu(config, deploy),
        requirements=(directory / REQUIREMENTS).is_file(),
        torch_requirements=torch_requirements(directory / REQUIREMENTS),
        local_model=local_model(directory, config.model.uri, bake_model),
        bake_model=bake_model,
        **stage_runtime(directory),
    )
    if generated:
        dockerfile.write_text(render_dockerfile(spec))
    if _ours_or_absent(directory / ".dockerignore"):
        (directory / ".dockerignore").write_text(render_dockerignore(spec))
    image = deploy.image or f"{config.name}:{config.version or 'latest'}"
    return BuildContext(directory, dockerfile, spec, generated, image)


def wants_gpu(config: FunctionConfig, deploy: DeploySettings) -> bool:
    """True when ``deploy.gpu`` asks for an NVIDIA GPU or ``runtime.device`` is ``cuda``."""
    if deploy.gpu is not None and deploy.gpu.vendor != "nvidia":
        raise ConfigError(f"deploy.gpu.vendor: kfunc build writes CUDA (nvidia) images only, not {deploy.gpu.vendor}; "
                          "write your own Dockerfile in the function directory (kfunc builds it as it is)")
    return deploy.gpu is not None or config.runtime.device == "cuda"


def torch_requirements(requirements: Path) -> tuple[str, ...]:
    """The requirement lines naming torch, torchvision or torchaudio (installed in their own layer)."""
    if not requirements.is_file():
        return ()
    found = []
    for line in requirements.read_text().splitlines():
        requirement = line.split("#", 1)[0].strip()
        name = _REQUIREMENT_NAME.match(requirement)
        if name and name.group(1).lower() in TORCH_PACKAGES:
            found.append(requirement)
    return tuple(found)


def local_model(directory: Path, uri: str | None, bake: bool) -> str | None:
    """The model's path relative to ``directory`` when it is a local path inside it, else None.

    With ``bake`` the model must be such a path: it is copied into the image.
    """
    where = parse_uri(uri) if uri else None
    path = None
    if isinstance(where, LocalUri):
        path = where.path if where.path.is_absolute() else directory / where.path
    inside = path is not None and path.resolve() != directory and path.resolve().is_relative_to(directory)
    if bake:
        _check_bakeable(uri, path, inside, directory)
    return path.resolve().relative_to(directory).as_posix() if inside else None


def _check_bakeable(uri: str | None, path: Path | None, inside: bool, directory: Path) -> None:
    if uri is None:
        raise ConfigError("--bake-model: model.uri is not set in kfunc.yaml; point it at the model directory "
                          "inside the function directory (e.g. 'uri: model')")
    if path is None:
        raise ConfigError(f"--bake-model copies a local model into the image, but model.uri is {uri!r}; "
                          "download the model into the function directory and point model.uri at it, "
                          "or build without --bake-model (the model is then fetched when the function starts)")
    if not inside:
        raise ConfigError(f"--bake-model: model.uri {uri!r} is not inside {directory} (the build context); "
                          "move the model into a subdirectory, e.g. ./model, and set 'uri: model'")
    if not path.exists():
        raise ConfigError(f"--bake-model: model.uri {uri!r}: {path} does not exist")


def stage_runtime(directory: Path) -> dict[str, str]:
    """How the image gets the kfunc runtime: a copy of this source checkout, or the installed release.

    From a source checkout the packages are copied to ``.kfunc/kfunc`` in the build context (the
    Dockerfile pip-installs them through a bind mount); else the image installs this kfunc release.
    """
    root = Path(functions.__file__).resolve().parent.parent
    pyproject = root / "pyproject.toml"
    if not (pyproject.is_file() and re.search(r'^name\s*=\s*"kfunc"', pyproject.read_text(), re.M)):
        return {"runtime_version": metadata.version("kfunc")}
    stage = directory / RUNTIME_STAGE_DIR
    target = stage / "kfunc"
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    (stage / ".gitignore").write_text("# staged by 'kfunc build'\n*\n")
    for name in ("pyproject.toml", "README.md"):
        if (root / name).is_file():
            shutil.copy2(root / name, target / name)
    for package in RUNTIME_PACKAGES:
        if (root / package).is_dir():
            shutil.copytree(root / package, target / package,
                            ignore=shutil.ignore_patterns("__pycache__", "*.pyc", ".kfunc"))
    return {"runtime_source": target.relative_to(directory).as_posix()}


def _ours_or_absent(path: Path) -> bool:
    """True when ``path`` does not exist or carries kfunc's marker in its first lines."""
    if not path.exists():
        return True
    with path.open(errors="replace") as file:
        return any(MARKER in file.readline() for _ in range(3))
