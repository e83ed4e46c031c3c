"""Split protoc-gen-py's module for the Open Inference Protocol into modules by responsibility.

protoc-gen-py writes one module per .proto file: every message class, then the file descriptor
built from them (``desc()``, which connectrpc's reflection serves). The OIP file makes that one
module of ~900 lines, so ``scripts/gen_grpc.sh`` runs this on it: the message classes go to one
module per group below, and the original module keeps the header, the descriptor and ``desc()``,
importing the classes back. Only whole top-level statements move; nothing generated is changed.

    python scripts/split_generated_pb.py functions/protocol/grpc_gen/open_inference_grpc_pb.py
"""
from __future__ import annotations

import ast
import sys
from pathlib import Path

GROUPS = {  # module -> (what it holds, the messages it holds)
    "oip_health_pb": ("liveness and readiness", ("ServerLiveRequest", "ServerLiveResponse", "ServerReadyRequest",
                                                 "ServerReadyResponse", "ModelReadyRequest", "ModelReadyResponse")),
    "oip_metadata_pb": ("server and model metadata", ("ServerMetadataRequest", "ServerMetadataResponse",
                                                      "ModelMetadataRequest", "ModelMetadataResponse")),
    "oip_tensor_pb": ("parameters and typed tensor contents", ("InferParameter", "InferTensorContents")),
    "oip_infer_pb": ("inference requests and responses", ("ModelInferRequest", "ModelInferResponse")),
}
NEEDS = {"oip_infer_pb": "oip_tensor_pb"}  # ModelInfer* name InferParameter and InferTensorContents


def message_of(node: ast.stmt) -> str | None:
    """The message a top-level statement belongs to: its class, or ``_<Message>Fields``."""
    if isinstance(node, ast.ClassDef):
        return node.name
    if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
        name = node.target.id
        if name.startswith("_") and name.endswith("Fields"):
            return name[1:-len("Fields")]
    return None


def split(path: Path) -> None:
    lines = path.read_text().splitlines(keepends=True)
    tree = ast.parse("".join(lines))
    first_message = next(n for n in tree.body if message_of(n))
    header = "".join(lines[:first_message.lineno - 1])
    group_of = {message: module for module, (_, messages) in GROUPS.items() for message in messages}
    bodies: dict[str, list[str]] = {module: [] for module in GROUPS}
    rest: list[str] = []
    for node in tree.body[tree.body.index(first_message):]:
        text = "".join(lines[node.lineno - 1:node.end_lineno]) + "\n"
        message = message_of(node)
        if message is None:
            rest.append(text)
        elif message not in group_of:
            sys.exit(f"{path}: message {message} is in no group of {__file__}; add it to GROUPS")
        else:
            bodies[group_of[message]].append(text)
    for module, (what, messages) in GROUPS.items():
        imports = f"from .{NEEDS[module]} import *  # noqa: F403\n\n" if module in NEEDS else ""
        note = f"# Split from {path.name} by scripts/split_generated_pb.py: {what}.\n"
        exports = f"__all__ = {list(messages)!r}\n\n"
        (path.parent / f"{module}.py").write_text(header.replace("\n\n", f"\n{note}\n", 1) + imports + exports
                                                  + "\n".join(bodies[module]))
    imports = "".join(f"from .{module} import *  # noqa: F403\n" for module in GROUPS)
    path.write_text(header + imports + "\n\n" + "\n".join(rest))


if __name__ == "__main__":
    split(Path(sys.argv[1]))
