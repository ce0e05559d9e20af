#!/usr/bin/env bash
# Starts kube-sim with 1,000 nodes and 10,000 Services (one EndpointSlice each, 3 endpoints), then has real
# kubectl list every EndpointSlice in pages of 500. Prints start time, RSS after start and after the list,
# and the list time. Usage: Benchmarks/kube-sim-scale.sh [path/to/kube-sim]   (default: release build)
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${1:-}
if [[ -z "$BIN" ]]; then
  swift build -c release --product kube-sim >/dev/null
  BIN=$(swift build -c release --show-bin-path)/kube-sim
fi
WORK=$(mktemp -d)
trap 'kill "$PID" 2>/dev/null || true; rm -rf "$WORK"' EXIT
cp Scenarios/objects/kubeadm-v1.34-kube-proxy-*.yaml "$WORK/"
cat > "$WORK/scale.yaml" <<YAML
kubernetesVersion: v1.34.0
objects: [kubeadm-v1.34-kube-proxy-configmap.yaml, kubeadm-v1.34-kube-proxy-daemonset.yaml]
nodeGroups:
  - {namePrefix: node, count: 1000, kernelVersion: 6.1.0-28-amd64, ipvs: loadable}
services: {count: 10000, endpointsPerService: 3}
podStartDelay: 1s
historyLimit: 20000
YAML
START=$(date +%s%N)
"$BIN" --scenario "$WORK/scale.yaml" --kubeconfig-out "$WORK/kubeconfig" >"$WORK/url" 2>"$WORK/log" &
PID=$!
until [[ -s "$WORK/url" ]]; do sleep 0.05; kill -0 "$PID"; done
READY=$(date +%s%N)
echo "start (process launch to serving): $(( (READY - START) / 1000000 )) ms"
echo "kube-sim's own report: $(cat "$WORK/log")"
rss() { awk '/VmRSS/ {printf "%.0f MiB", $2/1024}' "/proc/$PID/status"; }
echo "RSS after start: $(rss)"
export KUBECACHEDIR="$WORK/cache"
T0=$(date +%s%N)
COUNT=$(kubectl --kubeconfig "$WORK/kubeconfig" get endpointslices -A --chunk-size=500 -o name | wc -l)
T1=$(date +%s%N)
echo "kubectl get endpointslices -A --chunk-size=500: $COUNT slices in $(( (T1 - T0) / 1000000 )) ms"
[[ "$COUNT" == 10001 ]] || { echo "expected 10001 EndpointSlices (10000 + default/kubernetes)"; exit 1; }
kubectl --kubeconfig "$WORK/kubeconfig" rollout status ds/kube-proxy -n kube-system --timeout=300s >/dev/null
T2=$(date +%s%N)
echo "kube-proxy DaemonSet on 1000 nodes rolled out $(( (T2 - READY) / 1000000 )) ms after serving"
echo "RSS after list and rollout: $(rss)"
