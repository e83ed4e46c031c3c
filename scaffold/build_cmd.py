"""``kfunc build [PATH]``: write the function's Dockerfile and build (and push) its image with
docker, podman or buildah, whichever is on PATH and works; without one, say how to build it."""
from __future__ import annotations

import argparse
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

from functions.errors import ConfigError

from .build_context import BuildContext, prepare

BUILDERS = ("docker", "podman", "buildah")
_ENGINE_CHECK_TIMEOUT_S = 20


class NoBuilder(Exception):
    """No usable container builder; the message says what was looked for and what went wrong."""


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``build`` subcommand; it sets ``func`` to a callable(args) -> exit code.

    Config problems are raised as KFuncError (the CLI prints the message)."""
    build = subparsers.add_parser(
        "build", help="write a Dockerfile for a function and build its image",
        description="Write PATH/Dockerfile (CPU or CUDA base, non-root, model not baked in unless "
                    "--bake-model) and build it with docker, podman or buildah.")
    build.add_argument("path", nargs="?", type=Path, default=Path("."), help="function directory (default .)")
    build.add_argument("--image", "-i", help="image reference (default: deploy.image, else NAME:VERSION from kfunc.yaml)")
    build.add_argument("--push", action="store_true", help="push the image after building it")
    build.add_argument("--builder", choices=BUILDERS, help="builder to use (default: the first on PATH that works)")
    build.add_argument("--dockerfile-only", action="store_true", help="write the Dockerfile, do not build")
    build.add_argument("--bake-model", action="store_true",
                       help="copy the local model (model.uri) into the image and point KFUNC_MODEL_URI at it")
    build.set_defaults(func=run_build)


def run_build(args: argparse.Namespace) -> int:
    context = prepare(args.path, bake_model=args.bake_model)
    image = args.image or context.image
    if args.push and "/" not in image:
        raise ConfigError(f"--push: {image!r} names no registry; use e.g. "
                          f"--image registry.example.com/team/{context.spec.name}:1")
    print(f"wrote {context.dockerfile}" if context.generated
          else f"using your own {context.dockerfile} (it has no kfunc marker line)")
    if args.dockerfile_only:
        print("build it with:\n" + _manual_steps(context, image, args.push))
        return 0
    try:
        builder = choose_builder(args.builder)
    except NoBuilder as exc:
        print(f"kfunc build: error: {exc}\nbuild it where a container engine runs:\n"
              + _manual_steps(context, image, args.push), file=sys.stderr)
        return 1
    return build_image(builder, context, image, push=args.push)


def choose_builder(requested: str | None = None) -> str:
    """The path of the builder to run: ``requested``, or the first of docker/podman/buildah that works."""
    found = {name: shutil.which(name) for name in ([requested] if requested else BUILDERS)}
    if not any(found.values()):
        raise NoBuilder(f"no container builder found on PATH (looked for {', '.join(found)}); "
                        "install one, or build the Dockerfile on a machine that has one")
    problems = []
    for name, executable in found.items():
        if executable is None:
            continue
        problem = _engine_problem(executable) if name == "docker" else None
        if problem is None:
            return executable
        problems.append(problem)
    raise NoBuilder("; ".join(problems))


def build_image(builder: str, context: BuildContext, image: str, *, push: bool) -> int:
    """Run the build (and push); the builder's own output goes straight to the terminal."""
    env = {**os.environ, "DOCKER_BUILDKIT": "1"}
    for command in _commands(builder, context, image, push):
        print("$ " + shlex.join(command), flush=True)
        returncode = subprocess.run(command, env=env).returncode
        if returncode != 0:
            print(f"kfunc build: error: {Path(builder).name} {command[1]} failed with exit code {returncode}",
                  file=sys.stderr)
            return 1
    print(f"{'pushed' if push else 'built'} {image}")
    return 0


def _commands(builder: str, context: BuildContext, image: str, push: bool) -> list[list[str]]:
    """docker, podman and buildah take the same build and push arguments."""
    build = [builder, "build", "--tag", image, "--file", str(context.dockerfile), str(context.directory)]
    return [build, [builder, "push", image]] if push else [build]


def _engine_problem(docker: str) -> str | None:
    """None when a Docker engine answers ``docker info``; else why not."""
    try:
        result = subprocess.run([docker, "info"], capture_output=True, text=True, timeout=_ENGINE_CHECK_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        return f"docker is on PATH but 'docker info' got no answer in {_ENGINE_CHECK_TIMEOUT_S}s (no Docker engine?)"
    if result.returncode == 0:
        return None
    detail = (result.stderr or result.stdout).strip().splitlines()
    reason = f" ({detail[-1]})" if detail else ""
    return (f"docker is on PATH but no Docker engine answers{reason}; start the engine, "
            "set DOCKER_HOST, or use --builder podman|buildah")


def _manual_steps(context: BuildContext, image: str, push: bool) -> str:
    steps = [f"  DOCKER_BUILDKIT=1 docker build --tag {shlex.quote(image)} "
             f"--file {shlex.quote(str(context.dockerfile))} {shlex.quote(str(context.directory))}"]
    if push:
        steps.append(f"  docker push {shlex.quote(image)}")
    return "\n".join(steps) + "\n  (podman and buildah take the same arguments)"
