#!/usr/bin/env bash
# Issue 15's benchmark: `kpswitch preflight --scope cluster --to ipvs` on a kube-sim cluster of NODES nodes (kubeadm's
# kube-proxy objects; ABSENT of them without IPVS), which runs one real agent pod per node (kube-sim executes each
# pod's script under unshare, Docs/kube-sim-scenarios.md), at --node-concurrency 20 and 50. For each: wall time,
# kpswitch's CPU time (user+sys) and peak memory from /usr/bin/time -v, and the API requests kube-sim served during
# the run (SIGUSR1 before and after), per node. Each run must name exactly the nodes without IPVS and leave no
# agent pod, or its numbers do not count. Needs root (kube-sim's agent pods), unshare, depmod, kubectl.
# Usage: Benchmarks/node-preflight.sh [BIN_DIR] [NODES] [ABSENT]   (default: a release build; 1000 nodes, 10 absent)
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${1:-}
NODES=${2:-1000}
ABSENT=${3:-10}
if [[ -z "$BIN" ]]; then
  BUILD=(swift build -c release ${SCRATCH_PATH:+--scratch-path "$SCRATCH_PATH"})
  "${BUILD[@]}" --product kpswitch >/dev/null
  "${BUILD[@]}" --product kube-sim >/dev/null
  BIN=$("${BUILD[@]}" --show-bin-path)
fi
WORK=$(mktemp -d)
PID=
trap '[[ -n "$PID" ]] && kill "$PID" 2>/dev/null; rm -rf "$WORK"' EXIT
cp Scenarios/objects/kubeadm-v1.34-kube-proxy-*.yaml "$WORK/"
cat > "$WORK/cluster.yaml" <<YAML
kubernetesVersion: v1.34.0
objects: [kubeadm-v1.34-kube-proxy-configmap.yaml, kubeadm-v1.34-kube-proxy-daemonset.yaml]
nodeGroups:
  - {namePrefix: absent, count: $ABSENT, kernelVersion: 6.1.0-28-amd64, ipvs: absent}
  - {namePrefix: node, count: $((NODES - ABSENT)), kernelVersion: 6.1.0-28-amd64, ipvs: loaded}
services: {count: 100, endpointsPerService: 3}
podStartDelay: 50ms
historyLimit: 200000
YAML
# kube-sim's agent roots and its per-profile /lib/modules go under TMPDIR: removed with WORK.
TMPDIR="$WORK" "$BIN/kube-sim" --scenario "$WORK/cluster.yaml" --kubeconfig-out "$WORK/kubeconfig" >"$WORK/url" 2>"$WORK/sim.log" &
PID=$!
until [[ -s "$WORK/url" ]]; do sleep 0.05; kill -0 "$PID"; done
export KUBECONFIG="$WORK/kubeconfig" KUBECACHEDIR="$WORK/kubectl-cache"
kubectl rollout status ds/kube-proxy -n kube-system --timeout=30m >/dev/null

served() {
  local before
  before=$(grep -c 'requests {' "$WORK/sim.log" || true)
  kill -USR1 "$PID"
  until (( $(grep -c 'requests {' "$WORK/sim.log" || true) > before )); do sleep 0.02; done
  grep 'requests {' "$WORK/sim.log" | tail -n1 | grep -oE '"total":[0-9]+' | cut -d: -f2
}
usage() {
  awk -F': ' '/User time/ {u=$2} /System time/ {s=$2} /Maximum resident/ {m=$2} END {print u, s, m}' "$1"
}
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

echo "kube-sim: $NODES nodes ($ABSENT without IPVS), podStartDelay 50ms, kube-proxy v1.34 (kubeadm objects); $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
printf "%-12s %10s %10s %12s %12s %14s %8s\n" concurrency "wall (s)" "CPU (s)" "max RSS MiB" "requests" "requests/node" skipped
for C in 20 50; do
  R0=$(served); T0=$(now_ms)
  status=0
  /usr/bin/time -v -o "$WORK/time.$C" "$BIN/kpswitch" preflight --scope cluster --to ipvs -o json \
    --node-concurrency "$C" >"$WORK/report.$C.json" 2>"$WORK/err.$C" || status=$?
  T1=$(now_ms); R1=$(served)
  [[ $status == 3 ]] || { echo "preflight exited $status, not 3:" >&2; cat "$WORK/err.$C" "$WORK/report.$C.json" >&2; exit 1; }
  python3 - "$WORK/report.$C.json" "$NODES" "$ABSENT" <<'PY'
import json, sys
report, nodes, absent = json.load(open(sys.argv[1])), int(sys.argv[2]), int(sys.argv[3])
check = next(c for c in report["checks"] if c["name"] == "IPVSKernelSupport")
errors = [f for f in check["findings"] if f["severity"] == "error"]
# The API lists nodes by name, so absent-10 comes before absent-2: compare as sets.
named = {frozenset(f["nodes"]) for f in errors}
expected = frozenset(f"absent-{i}" for i in range(1, absent + 1))
assert named == {expected}, (named, check["findings"][:3])
covered = {n for f in check["findings"] if f.get("subject") == "ip_vs" for n in f["nodes"]}
skipped = [f for f in check["findings"] if f["severity"] == "skipped"]
assert len(covered) + sum(len(f["nodes"]) for f in skipped) == nodes, check["findings"]
# A node whose agent could not run counts as skipped, with its reason; the run's numbers still count.
for f in skipped:
    print("  skipped:", f["message"][:400], file=sys.stderr)
print(sum(len(f["nodes"]) for f in skipped), file=open(sys.argv[1] + ".skipped", "w"))
PY
  left=$(kubectl get pods -n kube-system -l app.kubernetes.io/managed-by=kpswitch -o name | wc -l)
  [[ $left == 0 ]] || { echo "$left agent pods left" >&2; exit 1; }
  read -r U S M < <(usage "$WORK/time.$C")
  awk -v c="$C" -v w=$((T1 - T0)) -v u="$U" -v s="$S" -v m="$M" -v r=$((R1 - R0)) -v n="$NODES" -v k="$(cat "$WORK/report.$C.json.skipped")" 'BEGIN {
    printf "%-12d %10.1f %10.2f %12.1f %12d %14.2f %8d\n", c, w / 1000, u + s, m / 1024, r, r / n, k }'
done
