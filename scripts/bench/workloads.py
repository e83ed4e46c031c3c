"""What is benchmarked: a model, the request each protocol sends, and the output it must give.

A workload names the function directory kfunc serves, the module that serves the same model
with KServe's ModelServer, one ``Probe`` (request) per protocol, and a reference output
computed in-process: every server's answer must match it before any load is run.
"""
from __future__ import annotations

import importlib.util
import json
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, Callable

import numpy as np

REPO = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Probe:
    """One request as wrk sends it, and how to read the model output from its JSON answer."""

    path: str
    body: bytes
    content_type: str
    read_output: Callable[[Any], np.ndarray]


@dataclass(frozen=True)
class Workload:
    """A model served the same way by every target."""

    name: str
    model_name: str
    function_dir: Path
    kserve_module: str
    probes: dict[str, Probe]
    reference: Callable[[], np.ndarray]


def load_module(path: Path, module_name: str) -> ModuleType:
    """Import a Python file by path (a function's ``func.py``) under the given module name."""
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"{path}: cannot be imported as a Python module")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def v1_predictions(answer: Any) -> np.ndarray:
    """The ``predictions`` of a KServe V1 answer."""
    return np.asarray(answer["predictions"], dtype=np.float64)


def v2_output(name: str) -> Callable[[Any], np.ndarray]:
    """A reader for the named output tensor of an Open Inference Protocol answer."""
    def read(answer: Any) -> np.ndarray:
        tensor = next(t for t in answer["outputs"] if t["name"] == name)
        return np.asarray(tensor["data"], dtype=np.float64).reshape(tensor["shape"])
    return read


def _json(payload: Any) -> bytes:
    return json.dumps(payload, separators=(",", ":")).encode()


def mlp() -> Workload:
    """The 64-256-256-10 torch MLP of examples/mlp, one [1,64] FP32 row per request."""
    function_dir = REPO / "examples" / "mlp"
    row = np.random.default_rng(0).standard_normal((1, 64)).astype(np.float32)

    def reference() -> np.ndarray:
        import torch

        model = load_module(function_dir / "func.py", "_bench_mlp_func").build()
        with torch.inference_mode():
            return model(torch.from_numpy(row)).numpy().astype(np.float64)

    v2_tensor = {"name": "input-0", "shape": list(row.shape), "datatype": "FP32", "data": row.tolist()}
    return Workload(
        name="mlp",
        model_name="mlp",
        function_dir=function_dir,
        kserve_module="scripts.bench.kserve_mlp",
        probes={
            "v1": Probe("/v1/models/mlp:predict", _json({"instances": row.tolist()}),
                        "application/json", v1_predictions),
            "v2": Probe("/v2/models/mlp/infer", _json({"inputs": [v2_tensor]}),
                        "application/json", v2_output("output-0")),
        },
        reference=reference,
    )


SENTENCE = "The quick brown fox jumps over the lazy dog by the river"  # 12 words


def minilm() -> Workload:
    """all-MiniLM-L6-v2 sentence embeddings (examples/minilm, a batching predictor), one
    12-word sentence per request as a V2 BYTES tensor; 384 floats back."""
    function_dir = REPO / "examples" / "minilm"

    def reference() -> np.ndarray:
        func = load_module(function_dir / "func.py", "_bench_minilm_func")
        return func.embed(func.setup(None), [SENTENCE]).astype(np.float64)

    tensor = {"name": "text", "shape": [1], "datatype": "BYTES", "data": [SENTENCE]}
    return Workload(
        name="minilm",
        model_name="minilm",
        function_dir=function_dir,
        kserve_module="scripts.bench.kserve_minilm",
        probes={"v2": Probe("/v2/models/minilm/infer", _json({"inputs": [tensor]}), "application/json",
                            v2_output("embedding"))},
        reference=reference,
    )


WORKLOADS: dict[str, Callable[[], Workload]] = {"mlp": mlp, "minilm": minilm}
