#!/usr/bin/env bash
# kfunc in one go: scaffold a function, serve a real torch model, invoke it over V1, V2 and
# CloudEvents, then print the Knative Service and Istio routes that would go to a cluster.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/venv.sh "torch,deploy,mesh"
export PATH="$PWD/.venv/bin:$PATH"
crds=../shared/crds
demo=.demo/fraud-scorer
port="${DEMO_PORT:-8080}"

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "kfunc new fraud-scorer --template pytorch"
rm -rf "$demo"
kfunc new fraud-scorer --template pytorch --path "$demo"

step "kfunc run $demo --port $port   (gunicorn, model loaded once before the workers fork)"
kfunc run "$demo" --port "$port" --workers 2 --threads 2 >.demo/server.log 2>&1 &
server=$!
trap 'kill -TERM $server 2>/dev/null; wait $server 2>/dev/null || true' EXIT
for _ in $(seq 100); do
  curl -sf "http://127.0.0.1:$port/v2/health/ready" >/dev/null && break
  kill -0 $server 2>/dev/null || { cat .demo/server.log; exit 1; }
  sleep 0.2
done
curl -s "http://127.0.0.1:$port/v2/models/fraud-scorer"; echo

data='[[0.5, 1.0, -0.25, 2.0]]'
for format in v1 v2 cloudevent; do
  step "kfunc invoke --format $format --data '$data'"
  kfunc invoke "$demo" --target "http://127.0.0.1:$port" --format "$format" --data "$data"
done

step "kfunc deploy --dry-run -o yaml   (validated against the Knative CRDs and webhook rules)"
crd_flag=(); [ -d "$crds" ] && crd_flag=(--crds "$crds")
kfunc deploy "$demo" --dry-run -o yaml --image registry.example.com/fraud-scorer:1 "${crd_flag[@]}"

step "kfunc traffic split --dry-run -o yaml   (Istio VirtualService: 90% blue, 10% green)"
kfunc traffic split fraud-scorer blue=90 green=10 --dry-run -o yaml "${crd_flag[@]}"
