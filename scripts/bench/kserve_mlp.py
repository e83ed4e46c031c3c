"""KServe's own ModelServer serving the examples/mlp network (same weights), for the benchmark.

    python -m scripts.bench.kserve_mlp --model_name mlp --http_port 8080 --workers 1

Every KServe ModelServer flag applies (``--workers``, ``--log_config_file``, ...). Torch
threads per process: ``OMP_NUM_THREADS`` (default 1), set again after ``func.py`` (which sets
its own) is imported; KServe spawns its workers, which re-import this module, so the setting
also sits at import time.
"""
from __future__ import annotations

import os
from typing import Any

import numpy as np
import torch
from kserve import InferOutput, InferRequest, InferResponse, Model, ModelServer
from kserve.model_server import parser
from kserve.utils.utils import generate_uuid

from scripts.bench.workloads import load_module, mlp

TORCH_THREADS = int(os.environ.get("OMP_NUM_THREADS", "1"))
torch.set_num_threads(TORCH_THREADS)


class MLP(Model):
    """The MLP behind KServe V1 (``instances``) and V2 (``InferRequest``) predict."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.network: torch.nn.Module | None = None
        self.load()

    def load(self) -> bool:
        func = load_module(mlp().function_dir / "func.py", "_bench_mlp_func")
        self.network = func.build()
        torch.set_num_threads(TORCH_THREADS)
        self.ready = True
        return self.ready

    def _forward(self, rows: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            return self.network(torch.from_numpy(rows)).numpy()

    def predict(self, payload: Any, headers: dict[str, str] | None = None) -> Any:
        if isinstance(payload, InferRequest):
            result = self._forward(payload.inputs[0].as_numpy())
            output = InferOutput(name="output-0", shape=list(result.shape), datatype="FP32")
            output.set_data_from_numpy(result, binary_data=False)
            return InferResponse(response_id=payload.id or generate_uuid(), model_name=self.name,
                                 infer_outputs=[output])
        rows = np.asarray(payload["instances"], dtype=np.float32)
        return {"predictions": self._forward(rows).tolist()}


if __name__ == "__main__":
    args, _ = parser.parse_known_args()
    ModelServer().start([MLP(args.model_name)])
