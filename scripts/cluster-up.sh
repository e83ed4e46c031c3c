#!/usr/bin/env bash
# A local cluster for `kfunc deploy`: kind + Istio (net-istio's build) + Knative Serving, with the
# feature flags kfunc's manifests can use. Needs docker, kind and kubectl on PATH.
#
#   scripts/cluster-up.sh            create the cluster (idempotent: re-running re-applies)
#   scripts/cluster-up.sh down       delete it
#   EVENTING=1 scripts/cluster-up.sh also install Knative Eventing and a `default` Broker (for triggers)
#
# Services get URLs like http://NAME.NAMESPACE.127.0.0.1.sslip.io, reachable from this machine on
# HOST_PORT. Images built locally reach the cluster with `kind load docker-image IMAGE --name kfunc`;
# name them dev.local/... (or kind.local/...) so Knative does not try to resolve their digest in a registry.
set -euo pipefail

CLUSTER="${CLUSTER:-kfunc}"
KNATIVE_VERSION="${KNATIVE_VERSION:-knative-v1.21.0}"   # one tag for serving, net-istio and eventing
HOST_PORT="${HOST_PORT:-80}"
NODE_PORT=31080
SERVING="https://github.com/knative/serving/releases/download/${KNATIVE_VERSION}"
NET_ISTIO="https://github.com/knative/net-istio/releases/download/${KNATIVE_VERSION}"
EVENTING_URL="https://github.com/knative/eventing/releases/download/${KNATIVE_VERSION}"

say() { printf '\n==> %s\n' "$*"; }

for tool in docker kind kubectl; do
  command -v "$tool" >/dev/null || { echo "error: $tool is not on PATH; install it first" >&2; exit 1; }
done

if [ "${1:-}" = "down" ]; then
  kind delete cluster --name "$CLUSTER"
  exit 0
fi

if ! kind get clusters | grep -qx "$CLUSTER"; then
  say "Creating kind cluster '$CLUSTER' (ingress on 127.0.0.1:${HOST_PORT})"
  kind create cluster --name "$CLUSTER" --wait 120s --config - <<EOF
kind: Cluster
apiVersion: kind.x-k8s.io/v1alpha4
nodes:
- role: control-plane
  extraPortMappings:
  - containerPort: ${NODE_PORT}
    hostPort: ${HOST_PORT}
    listenAddress: "127.0.0.1"
EOF
fi
kubectl config use-context "kind-${CLUSTER}" >/dev/null

say "Installing Knative Serving ${KNATIVE_VERSION}"
kubectl apply -f "${SERVING}/serving-crds.yaml"
kubectl wait --for=condition=Established --all crd --timeout=120s
kubectl apply -f "${SERVING}/serving-core.yaml"

say "Installing Istio (as configured by net-istio) and the Knative Istio controller"
kubectl apply -l knative.dev/crd-install=true -f "${NET_ISTIO}/istio.yaml"
kubectl wait --for=condition=Established --all crd --timeout=120s
kubectl apply -f "${NET_ISTIO}/istio.yaml"
kubectl apply -f "${NET_ISTIO}/net-istio.yaml"

say "Exposing the Istio ingress gateway on node port ${NODE_PORT}"
kubectl -n istio-system patch service istio-ingressgateway \
  -p "{\"spec\":{\"type\":\"NodePort\",\"ports\":[{\"port\":80,\"nodePort\":${NODE_PORT}}]}}"

say "Waiting for Istio and Knative Serving to be available"
kubectl wait --for=condition=Available deployment --all -n istio-system --timeout=300s
kubectl wait --for=condition=Available deployment --all -n knative-serving --timeout=300s

# The ConfigMap webhook must be up (waited above) before these patches are accepted.
say "Enabling the pod-spec features kfunc uses (GPU placement, model cache volumes)"
kubectl patch configmap/config-features -n knative-serving --type merge -p '{"data":{
  "kubernetes.podspec-nodeselector":"enabled",
  "kubernetes.podspec-tolerations":"enabled",
  "kubernetes.podspec-affinity":"enabled",
  "kubernetes.podspec-runtimeclassname":"enabled",
  "kubernetes.podspec-persistent-volume-claim":"enabled",
  "kubernetes.podspec-persistent-volume-write":"enabled",
  "kubernetes.podspec-volumes-hostpath":"enabled",
  "kubernetes.podspec-init-containers":"enabled"}}'

say "Serving URLs under 127.0.0.1.sslip.io; skipping digest resolution for local images"
kubectl patch configmap/config-domain -n knative-serving --type merge -p '{"data":{"127.0.0.1.sslip.io":""}}'
kubectl patch configmap/config-deployment -n knative-serving --type merge \
  -p '{"data":{"registries-skipping-tag-resolving":"kind.local,ko.local,dev.local"}}'

if [ "${EVENTING:-0}" = "1" ]; then
  say "Installing Knative Eventing ${KNATIVE_VERSION} with the in-memory channel broker"
  kubectl apply -f "${EVENTING_URL}/eventing-crds.yaml"
  kubectl wait --for=condition=Established --all crd --timeout=120s
  kubectl apply -f "${EVENTING_URL}/eventing-core.yaml"
  kubectl apply -f "${EVENTING_URL}/in-memory-channel.yaml"
  kubectl apply -f "${EVENTING_URL}/mt-channel-broker.yaml"
  kubectl wait --for=condition=Available deployment --all -n knative-eventing --timeout=300s
  kubectl apply -f - <<EOF
apiVersion: eventing.knative.dev/v1
kind: Broker
metadata:
  name: default
  namespace: default
EOF
fi

say "Ready. Next:"
port_suffix=""; [ "$HOST_PORT" = "80" ] || port_suffix=":${HOST_PORT}"
cat <<EOF
  kfunc build examples/mlp --image dev.local/mlp:1
  kind load docker-image dev.local/mlp:1 --name ${CLUSTER}
  kfunc deploy examples/mlp --image dev.local/mlp:1      # prints http://mlp.default.127.0.0.1.sslip.io${port_suffix}
  KFUNC_E2E_CLUSTER=1 KFUNC_E2E_IMAGE=dev.local/mlp:1 .venv/bin/pytest -m cluster tests/knative/test_cluster_e2e.py
EOF
