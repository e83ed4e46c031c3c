"""KServe's own ModelServer serving all-MiniLM-L6-v2 with examples/minilm's code, for the benchmark.

    python -m scripts.bench.kserve_minilm --model_name minilm --http_port 8080 --workers 2

The model is loaded and run by the very functions kfunc serves (``setup`` and ``embed`` from
``examples/minilm/func.py``), one request's sentences per call: KServe's ModelServer runs each
``predict`` on its own (its batcher is a separate, V1-only component). Torch threads per
process: ``OMP_NUM_THREADS`` (default 1), as in ``kserve_mlp.py``.
"""
from __future__ import annotations

import os
from typing import Any

import torch
from kserve import InferOutput, InferResponse, Model, ModelServer
from kserve.model_server import parser
from kserve.utils.utils import generate_uuid

from scripts.bench.workloads import load_module, minilm

TORCH_THREADS = int(os.environ.get("OMP_NUM_THREADS", "1"))
FUNC = load_module(minilm().function_dir / "func.py", "_bench_minilm_func")  # a module: not on the model,
torch.set_num_threads(TORCH_THREADS)  # which KServe pickles into the worker processes it spawns


class MiniLM(Model):
    """Sentence embeddings behind KServe V2 (``InferRequest`` with one BYTES input)."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.model: Any = None
        self.load()

    def load(self) -> bool:
        self.model = FUNC.setup(None)
        torch.set_num_threads(TORCH_THREADS)
        self.ready = True
        return self.ready

    def predict(self, payload: Any, headers: dict[str, str] | None = None) -> Any:
        texts = payload.inputs[0].as_numpy().reshape(-1).tolist()
        sentences = [t.decode("utf-8") if isinstance(t, bytes) else str(t) for t in texts]
        result = FUNC.embed(self.model, sentences)
        output = InferOutput(name="embedding", shape=list(result.shape), datatype="FP32")
        output.set_data_from_numpy(result, binary_data=False)
        return InferResponse(response_id=payload.id or generate_uuid(), model_name=self.name, infer_outputs=[output])


if __name__ == "__main__":
    args, _ = parser.parse_known_args()
    ModelServer().start([MiniLM(args.model_name)])
