"""The Dockerfile (and .dockerignore) ``kfunc build`` writes for a function.

The image: a CPU base (``python:3.11-slim``) or a CUDA base when the function asks for a GPU;
a virtualenv in ``/opt/venv``; pip layers with a BuildKit cache mount, ordered from the least to
the most often changed (torch, the kfunc runtime, requirements.txt, the model if baked, the code);
user 1000 (numeric, so Kubernetes ``runAsNonRoot`` can check it); every place Python or the
model libraries write to pointed at ``/tmp`` or ``KFUNC_CACHE_DIR`` so a read-only root works
with an emptyDir at ``/tmp`` and the cache volume at ``/var/cache/kfunc``.
"""
from __future__ import annotations

from dataclasses import dataclass

MARKER = "Written by 'kfunc build'"
CPU_BASE = "python:3.11-slim"
GPU_BASE = "nvidia/cuda:12.8.1-runtime-ubuntu24.04"
TORCH_CPU_INDEX = "https://download.pytorch.org/whl/cpu"
FUNCTION_DIR = "/func"
CACHE_DIR = "/var/cache/kfunc"
RUNTIME_STAGE_DIR = ".kfunc"
RUNTIME_EXTRAS = "s3"
USER_ID = 1000
PORT = 8080
_PIP = "RUN --mount=type=cache,target=/root/.cache/pip"


@dataclass(frozen=True)
class ImageSpec:
    """What the image holds; paths are relative to the function directory (the build context)."""

    name: str
    version: str | None
    gpu: bool
    requirements: bool = True
    torch_requirements: tuple[str, ...] = ()
    runtime_source: str | None = None
    runtime_version: str | None = None
    local_model: str | None = None
    bake_model: bool = False

    @property
    def baked_model_uri(self) -> str | None:
        """Where a baked model lands in the image (``KFUNC_MODEL_URI``): where it is relative to
        the function directory, so a relative ``model.uri`` (which ``kfunc deploy`` passes on) finds it too."""
        if not (self.bake_model and self.local_model):
            return None
        return f"{FUNCTION_DIR}/{self.local_model}"


def render_dockerfile(spec: ImageSpec) -> str:
    """The whole Dockerfile for ``spec``."""
    sections = [
        _header(spec),
        _code_stage(spec) if spec.baked_model_uri else "",
        _base(spec),
        _build_environment(),
        _torch(spec),
        _runtime(spec),
        _requirements(spec),
        _model(spec),
        _code(spec),
        _run_environment(),
        f"USER {USER_ID}:{USER_ID}\n"
        f"EXPOSE {PORT}\n"
        f'ENTRYPOINT ["kfunc", "run", "{FUNCTION_DIR}"]\n',
    ]
    return "\n".join(s for s in sections if s)


def render_dockerignore(spec: ImageSpec) -> str:
    """Keep the build context small: no VCS, caches, virtualenvs, nor the model unless it is baked."""
    lines = [f"# {MARKER}: rewritten on every build while this line is here.",
             ".git", ".venv", "venv", "**/__pycache__", "**/*.pyc", ".pytest_cache"]
    if spec.local_model and not spec.bake_model:
        lines.append(spec.local_model.rstrip("/"))
    return "\n".join(lines) + "\n"


def _header(spec: ImageSpec) -> str:
    return (
        "# syntax=docker/dockerfile:1\n"
        f"# {MARKER} for function {spec.name}: rewritten on every build while this line is here;\n"
        "# delete this line to keep your own edits. Needs BuildKit (docker with DOCKER_BUILDKIT=1, podman, buildah).\n"
    )


def _code_stage(spec: ImageSpec) -> str:
    """With a baked model, the code is gathered in a stage without it, so code edits do not re-copy the model;
    the model gets a layer of its own at the same place."""
    return (
        f"FROM {_base_image(spec)} AS code\n"
        f"COPY . {FUNCTION_DIR}\n"
        f"RUN rm -rf {FUNCTION_DIR}/{spec.local_model}\n"
    )


def _base_image(spec: ImageSpec) -> str:
    return GPU_BASE if spec.gpu else CPU_BASE


def _base(spec: ImageSpec) -> str:
    labels = (f'LABEL org.opencontainers.image.title="{spec.name}"'
              + (f' org.opencontainers.image.version="{spec.version}"' if spec.version else ""))
    if spec.gpu:
        python = ("ARG DEBIAN_FRONTEND=noninteractive\n"
                  "RUN apt-get update && apt-get install -y --no-install-recommends python3 python3-venv \\\n"
                  "    && rm -rf /var/lib/apt/lists/* && python3 -m venv /opt/venv\n")
    else:
        python = "RUN python -m venv /opt/venv\n"
    return (
        f"FROM {_base_image(spec)}\n{labels}\n{python}"
        f"RUN id -u {USER_ID} >/dev/null 2>&1 || useradd --uid {USER_ID} --user-group --no-create-home kfunc\n"
        f"RUN mkdir -p {CACHE_DIR} && chown {USER_ID}:{USER_ID} {CACHE_DIR}\n"
    )


def _build_environment() -> str:
    return (
        "ENV PATH=/opt/venv/bin:$PATH \\\n"
        "    VIRTUAL_ENV=/opt/venv \\\n"
        "    PYTHONUNBUFFERED=1 \\\n"
        "    PYTHONDONTWRITEBYTECODE=1 \\\n"
        "    PIP_DISABLE_PIP_VERSION_CHECK=1\n"
    )


def _run_environment() -> str:
    """Set after the pip layers (pip would otherwise put its cache under these directories)."""
    return (
        "ENV HOME=/tmp \\\n"
        "    TMPDIR=/tmp \\\n"
        f"    KFUNC_CACHE_DIR={CACHE_DIR} \\\n"
        f"    XDG_CACHE_HOME={CACHE_DIR}/xdg \\\n"
        f"    HF_HOME={CACHE_DIR}/huggingface \\\n"
        f"    TORCH_HOME={CACHE_DIR}/torch \\\n"
        f"    PORT={PORT}\n"
    )


def _torch(spec: ImageSpec) -> str:
    """torch first, in its own layer; CPU images take the CPU wheel (no GBs of CUDA libraries)."""
    if not spec.torch_requirements:
        return ""
    index = "" if spec.gpu else f"--index-url {TORCH_CPU_INDEX} "
    wanted = " ".join(f'"{r}"' for r in spec.torch_requirements)
    return f"{_PIP} pip install {index}{wanted}\n"


def _runtime(spec: ImageSpec) -> str:
    """kfunc itself, with boto3 for s3:// model URIs: from a staged source tree, else a release."""
    if spec.runtime_source is None:
        version = f"=={spec.runtime_version}" if spec.runtime_version else ""
        return f'{_PIP} pip install "kfunc[{RUNTIME_EXTRAS}]{version}"\n'
    return (f"{_PIP} \\\n    --mount=type=bind,source={spec.runtime_source},target=/tmp/kfunc-src,rw \\\n"
            f'    pip install "/tmp/kfunc-src[{RUNTIME_EXTRAS}]"\n')


def _requirements(spec: ImageSpec) -> str:
    if not spec.requirements:
        return ""
    return (f"COPY requirements.txt {FUNCTION_DIR}/requirements.txt\n"
            f"{_PIP} pip install -r {FUNCTION_DIR}/requirements.txt\n")


def _model(spec: ImageSpec) -> str:
    uri = spec.baked_model_uri
    if uri is None:
        return ""
    return f"COPY {spec.local_model} {uri}\nENV KFUNC_MODEL_URI={uri}\n"


def _code(spec: ImageSpec) -> str:
    copy = (f"COPY --from=code {FUNCTION_DIR} {FUNCTION_DIR}" if spec.baked_model_uri
            else f"COPY . {FUNCTION_DIR}")
    return f"{copy}\nRUN python -m compileall -q {FUNCTION_DIR}\n"
