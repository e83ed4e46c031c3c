"""The starts compared on one model: the floor, kfunc (local path, warm cache, cold cache from S3)
and KServe's ModelServer. Each scenario spawns one process and times it to its first inference."""
from __future__ import annotations

import json
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from scripts.bench.servers import free_port
from scripts.bench.targets import KSERVE_LOG_CONFIG

from .spawn import Start, until_first_inference, until_first_line

HERE = Path(__file__).parent
FUNCTION_DIR = HERE / "function"
MODEL_NAME = "coldstart"  # the function's name in function/kfunc.yaml
INFER_PATH = f"/v2/models/{MODEL_NAME}/infer"
ONE_THREAD = {"OMP_NUM_THREADS": "1", "KFUNC_TORCH_THREADS": "1"}  # alike for every process


@dataclass(frozen=True)
class Setup:
    """What the scenarios share: the model (on disk and in S3), a scratch directory, limits."""

    model_dir: Path
    s3_uri: str
    s3_env: dict[str, str]
    warm_cache: Path
    work_dir: Path
    input_width: int
    timeout_s: float

    def infer_body(self) -> bytes:
        return json.dumps({"inputs": [{"name": "x", "datatype": "FP32", "shape": [1, self.input_width],
                                       "data": [0.0] * self.input_width}]}).encode()


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    measure: Callable[[Setup, int], float]  # (setup, run number) -> seconds to the first inference


def _log(setup: Setup, name: str, run: int) -> Path:
    return setup.work_dir / "logs" / f"{name}-{run}.log"


def _floor(*flags: str) -> Callable[[Setup, int], float]:
    def measure(setup: Setup, run: int) -> float:
        start = Start([sys.executable, str(HERE / "floor.py"), str(setup.model_dir), *flags], ONE_THREAD)
        return until_first_line(start, _log(setup, "floor" + "".join(flags), run), setup.timeout_s)
    return measure


def _kfunc(name: str, env: Callable[[Setup, int], dict[str, str]]) -> Callable[[Setup, int], float]:
    def measure(setup: Setup, run: int) -> float:
        port = free_port()
        argv = [str(Path(sys.executable).with_name("kfunc")), "run", str(FUNCTION_DIR), "--port", str(port)]
        start = Start(argv, {**ONE_THREAD, **env(setup, run)})
        return until_first_inference(start, port, INFER_PATH, setup.infer_body(), _log(setup, name, run),
                                     setup.timeout_s)
    return measure


def _local_env(setup: Setup, run: int) -> dict[str, str]:
    return {"KFUNC_MODEL_URI": str(setup.model_dir)}


def _warm_env(setup: Setup, run: int) -> dict[str, str]:
    return {**setup.s3_env, "KFUNC_MODEL_URI": setup.s3_uri, "KFUNC_CACHE_DIR": str(setup.warm_cache)}


def _cold_env(setup: Setup, run: int) -> dict[str, str]:
    cache = setup.work_dir / "cold-caches" / str(run)
    shutil.rmtree(cache, ignore_errors=True)
    return {**setup.s3_env, "KFUNC_MODEL_URI": setup.s3_uri, "KFUNC_CACHE_DIR": str(cache)}


def _kserve(setup: Setup, run: int) -> float:
    port = free_port()
    argv = [sys.executable, "-m", "scripts.bench.coldstart.kserve_server", "--model_dir", str(setup.model_dir),
            "--model_name", MODEL_NAME, "--http_port", str(port), "--enable_grpc", "false",
            "--enable_latency_logging", "false", "--log_config_file", str(KSERVE_LOG_CONFIG)]
    return until_first_inference(Start(argv, ONE_THREAD), port, INFER_PATH, setup.infer_body(),
                                 _log(setup, "kserve", run), setup.timeout_s)


FLOOR = Scenario("floor", "python: import torch, mmap the safetensors, one inference", _floor())
SCENARIOS = [
    FLOOR,
    Scenario("floor-gc-paused", "the floor with the cyclic GC paused, as kfunc run starts", _floor("--gc-paused")),
    Scenario("kfunc-warm", "kfunc run, model in S3, node cache warm", _kfunc("kfunc-warm", _warm_env)),
    Scenario("kfunc-local", "kfunc run, model.uri a local directory (no store)", _kfunc("kfunc-local", _local_env)),
    Scenario("kfunc-cold", "kfunc run, model in S3, empty cache (download)", _kfunc("kfunc-cold", _cold_env)),
    Scenario("kserve", "KServe ModelServer, model from a local directory", _kserve),
]
