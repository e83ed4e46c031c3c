"""KServe's ModelServer serving the cold-start MLP from a local directory, for reference.

    python -m scripts.bench.coldstart.kserve_server --model_dir DIR --model_name coldstart --http_port 8080

It loads as the floor and kfunc do (safetensors memory-mapped) and answers V2 infer.
"""
from __future__ import annotations

import sys
from pathlib import Path

import torch
from kserve import InferOutput, InferRequest, InferResponse, Model, ModelServer
from kserve.model_server import parser
from safetensors.torch import load_file

sys.path.insert(0, str(Path(__file__).with_name("function")))
from coldstart_mlp import WEIGHTS_FILE, forward  # noqa: E402


class ColdStartMLP(Model):
    """The MLP behind KServe's V2 ``infer``."""

    def __init__(self, name: str, model_dir: Path) -> None:
        super().__init__(name)
        self.model_dir = model_dir
        self.weights: dict[str, torch.Tensor] = {}
        self.load()

    def load(self) -> bool:
        self.weights = load_file(self.model_dir / WEIGHTS_FILE)
        self.ready = True
        return self.ready

    def predict(self, payload: InferRequest, headers=None, response_headers=None) -> InferResponse:
        with torch.inference_mode():
            result = forward(self.weights, torch.from_numpy(payload.inputs[0].as_numpy())).numpy()
        output = InferOutput(name="y", shape=list(result.shape), datatype="FP32")
        output.set_data_from_numpy(result, binary_data=False)
        return InferResponse(response_id=payload.id or "0", model_name=self.name, infer_outputs=[output])


if __name__ == "__main__":
    parser.add_argument("--model_dir", required=True, type=Path, help="directory holding model.safetensors")
    args, _ = parser.parse_known_args()
    ModelServer().start([ColdStartMLP(args.model_name, args.model_dir)])
