"""``kfunc run --version blue=DIR --version green=DIR [--config traffic.yaml]``: try routing on a laptop.

Serves each version with ``kfunc run`` behind a real Envoy configured from the same objects
``kfunc traffic ... --dry-run -o yaml`` prints for the cluster. The file is watched: write a new
split into it and Envoy takes it live, without dropping connections. Without ``--config`` all
traffic goes to the first version. ``--replicas N`` runs each version N times, as the endpoints of
one upstream; a function serving several models then also gets the model-affinity DestinationRule
(``istio.placement``), so each model's requests keep reaching one replica.
"""
from __future__ import annotations

import argparse
import signal
import tempfile
import time
from pathlib import Path

import yaml

from functions.config import load_config
from functions.errors import KFuncError
from istio.hosts import service_host, version_service
from istio.mesh import LocalMesh, LocalVersion
from istio.placement import model_affinity_rule
from istio.plan import TrafficPlan
from istio.virtualservice import render

from .traffic_cmd import note


def local_versions(version_args: list[str], env_args: list[str], replicas: int = 1) -> list[LocalVersion]:
    envs: dict[str, dict[str, str]] = {}
    for item in env_args:
        version, colon, assignment = item.partition(":")
        key, equals, value = assignment.partition("=")
        if not colon or not equals or not key:
            raise KFuncError(f"--env {item!r}: write VERSION:KEY=VALUE, e.g. green:COLOR=green")
        envs.setdefault(version, {})[key] = value
    versions = []
    for item in version_args:
        version, equals, directory = item.partition("=")
        if not equals or not Path(directory).is_dir():
            raise KFuncError(f"--version {item!r}: write VERSION=DIR with an existing function directory")
        versions.append(LocalVersion(version, Path(directory), envs.pop(version, {}), replicas))
    if envs:
        raise KFuncError(f"--env names unknown versions: {', '.join(envs)}")
    return versions


def read_text(path: Path) -> str:
    try:
        return path.read_text()
    except OSError as exc:
        raise KFuncError(f"--config {path}: {exc}") from None


def parse_objects(path: Path, text: str) -> list[dict]:
    try:
        return [d for d in yaml.safe_load_all(text) if isinstance(d, dict)]
    except yaml.YAMLError as exc:
        raise KFuncError(f"--config {path}: {exc}") from None


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def run_mesh(args: argparse.Namespace) -> int:
    """Serve ``args.version`` behind Envoy on ``args.port`` until SIGTERM/Ctrl-C."""
    signal.signal(signal.SIGTERM, _interrupt)  # stop the servers and Envoy on SIGTERM as on Ctrl-C
    if args.replicas < 1:
        raise KFuncError(f"--replicas {args.replicas}: give 1 or more")
    versions = local_versions(args.version, args.env, args.replicas)
    config = load_config(versions[0].directory)
    name = args.name or config.name
    port = args.port or 8080
    if args.config:
        applied = read_text(args.config)
        objects = parse_objects(args.config, applied)
    else:
        applied = None
        objects = render(TrafficPlan(name, args.namespace, {versions[0].version: 100},
                                     versions=tuple(v.version for v in versions)))
        if config.model_repository or config.models is not None:
            objects += [model_affinity_rule(name, service_host(version_service(name, v.version), args.namespace),
                                            args.namespace) for v in versions]
    with tempfile.TemporaryDirectory(prefix="kfunc-mesh-") as workdir, \
            LocalMesh(name, args.namespace, versions, Path(workdir), port) as mesh:
        mesh.start(objects)
        note(f"mesh for {name} at {mesh.url} (Envoy admin {mesh.envoy.admin_url}); Ctrl-C stops it")
        _watch(mesh, args.config, applied)
    return 0


def _watch(mesh: LocalMesh, config: Path | None, applied: str | None) -> None:
    """Apply the config file again whenever its text differs from what was last read; a bad file
    is reported and the old routes stay. Comparing text, not mtimes, also catches an edit made
    while the mesh was still starting."""
    try:
        while True:
            time.sleep(0.5)
            if config is None or not config.exists():
                continue
            try:
                text = read_text(config)
                if text == applied:
                    continue
                applied = text
                mesh.apply(parse_objects(config, text))
                note(f"applied {config}")
            except KFuncError as exc:
                note(f"kept the previous routes: {exc}")
    except KeyboardInterrupt:
        note("stopping the mesh")
