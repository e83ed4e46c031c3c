"""The floor of a cold start: a bare Python process that imports torch, memory-maps the weights
and runs one inference, then prints one line. Nothing else a server would need.

    python scripts/bench/coldstart/floor.py MODEL_DIR [--gc-paused]

``--gc-paused`` turns Python's cyclic garbage collector off first, as ``kfunc run`` does: the
floor for a server that uses the same trick.
"""
import gc
import sys
from pathlib import Path

if "--gc-paused" in sys.argv:
    gc.disable()

import torch  # noqa: E402
from safetensors.torch import load_file  # noqa: E402

sys.path.insert(0, str(Path(__file__).with_name("function")))
from coldstart_mlp import IN, WEIGHTS_FILE, forward  # noqa: E402

weights = load_file(Path(sys.argv[1]) / WEIGHTS_FILE)
with torch.inference_mode():
    output = forward(weights, torch.zeros(1, IN))
print(f"inference done: {float(output[0, 0]):.6f}", flush=True)
