#!/usr/bin/env bash
# Regenerate functions/protocol/grpc_gen/ from the Open Inference Protocol gRPC proto:
#   *_pb2.py / *_pb2_grpc.py  (google.protobuf + grpcio, grpcio-tools' protoc) for messages and grpc.aio,
#   *_pb.py                   (protobuf-py, protoc-gen-py) only for the descriptors connectrpc's reflection serves;
#                             the OIP one split into oip_*_pb.py by scripts/split_generated_pb.py.
#   model_repository_pb2.py   from kfunc's own functions/protocol/model_repository.proto (the repository extension).
# Needs the venv (scripts/venv.sh) plus `pip install protoc-gen-py==0.7.0`.
set -euo pipefail
cd "$(dirname "$0")/.."
proto="${1:-../shared/specs/open-inference-protocol/open_inference_grpc.proto}"
out=functions/protocol/grpc_gen
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/$out"
cp "$proto" "$tmp/$out/open_inference_grpc.proto"
py=.venv/bin/python
$py -m grpc_tools.protoc -I "$tmp" --python_out=. --pyi_out=. --grpc_python_out=. \
  --plugin=protoc-gen-py=.venv/bin/protoc-gen-py --py_out="$tmp" "$tmp/$out/open_inference_grpc.proto"
# tritonclient.grpc and kserve register the same `inference` package in protobuf's default pool:
# kfunc's messages live in a pool of their own, so a process may import both.
sed -i 's/_descriptor_pool.Default().AddSerializedFile(/_descriptor_pool.DescriptorPool().AddSerializedFile(/' \
  "$out/open_inference_grpc_pb2.py"
grep -q "DescriptorPool().AddSerializedFile" "$out/open_inference_grpc_pb2.py"
cp "$tmp/$out/open_inference_grpc_pb.py" "$out/"  # protoc-gen-py also writes __init__.py files: not those
$py scripts/split_generated_pb.py "$out/open_inference_grpc_pb.py"  # its ~900 lines, by responsibility
# grpc.health.v1 ships only as _pb2 (grpcio-health-checking): its descriptor goes to protoc-gen-py
# as a plugin request (there is no .proto file on disk to hand to protoc).
$py - "$out/health_pb.py" <<'PY'
import subprocess, sys
from google.protobuf.compiler import plugin_pb2
from grpc_health.v1 import health_pb2
request = plugin_pb2.CodeGeneratorRequest(file_to_generate=[health_pb2.DESCRIPTOR.name])
health_pb2.DESCRIPTOR.CopyToProto(request.proto_file.add())
answer = subprocess.run([".venv/bin/protoc-gen-py"], input=request.SerializeToString(),
                        capture_output=True, check=True).stdout
response = plugin_pb2.CodeGeneratorResponse.FromString(answer)
if response.error:
    sys.exit(response.error)
generated = {f.name: f.content for f in response.file}
open(sys.argv[1], "w").write(generated["grpc_health/v1/health_pb.py"])
PY
# kfunc's own model repository extension (Triton's RepositoryIndex/Load/Unload messages): _pb2 only.
mkdir -p "$tmp/repo/$out"
cp functions/protocol/model_repository.proto "$tmp/repo/$out/"
$py -m grpc_tools.protoc -I "$tmp/repo" --python_out=. --pyi_out=. "$tmp/repo/$out/model_repository.proto"
touch "$out/__init__.py"
echo "regenerated $out"
