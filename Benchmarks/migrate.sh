#!/usr/bin/env bash
# Issue 11's benchmark: one kube-sim cluster of 1,000 nodes (kubeadm's kube-proxy objects, iptables mode), the same
# mode switch done twice on the same server in the same run:
#   kubectl:  kubectl edit cm kube-proxy (mode: "" -> nftables), kubectl rollout restart ds/kube-proxy,
#             kubectl rollout status ds/kube-proxy               (iptables -> nftables)
#   kpswitch: kpswitch migrate --to iptables --yes             (nftables -> iptables; canary, default batches)
# For each: CPU time (user+sys) and peak memory from /usr/bin/time -v (every kubectl process of the job counted),
# wall time, and the API requests kube-sim served (its counts, read with SIGUSR1 before and after). Prints the
# ratios kpswitch/kubectl. kpswitch does more than kubectl here: it verifies every node's pod and start-up log
# (twice: after its canary batch, and after its final batch); kubectl only watches the DaemonSet's counters.
# Also prints kpswitch's (and kubectl's) requests by verb and resource.
# kpswitch runs with --no-node-snapshot: kubectl does no node work, and the back-up step's agent pod per node (issue 15)
# costs what Benchmarks/node-preflight.sh measures. NODE_SNAPSHOT=1 measures the migration with it, and with the
# verification of programmed rules that the node agents then do, on netfilter nodes (root; a node without its own
# namespace holds no rules, which verification fails).
# Usage: [SCRATCH_PATH=.build-release] [CONFIGURATION=debug] Benchmarks/migrate.sh [NODES] [POD_START_DELAY]   (defaults 1000, 50ms; release)
set -euo pipefail
cd "$(dirname "$0")/.."
NODES=${1:-1000}
DELAY=${2:-50ms}

# SCRATCH_PATH: a separate build folder, so that the release build does not wait for a debug build of .build.
# CONFIGURATION=debug measures the debug build (requests and wall time hold; CPU and memory are not release's).
BUILD=(swift build -c "${CONFIGURATION:-release}" ${SCRATCH_PATH:+--scratch-path "$SCRATCH_PATH"})
"${BUILD[@]}" --product kpswitch >/dev/null
"${BUILD[@]}" --product kube-sim >/dev/null
BIN=$("${BUILD[@]}" --show-bin-path)
WORK=$(mktemp -d)
PID=
trap '[[ -n "$PID" ]] && kill "$PID" 2>/dev/null; rm -rf "$WORK"' EXIT
cp Scenarios/objects/kubeadm-v1.34-kube-proxy-*.yaml "$WORK/"
NETFILTER=false
[[ -n "${NODE_SNAPSHOT:-}" ]] && NETFILTER=true
cat > "$WORK/cluster.yaml" <<YAML
kubernetesVersion: v1.34.0
objects: [kubeadm-v1.34-kube-proxy-configmap.yaml, kubeadm-v1.34-kube-proxy-daemonset.yaml]
nodeGroups:
  - {namePrefix: node, count: $NODES, kernelVersion: 6.1.0-28-amd64, ipvs: loadable, netfilter: $NETFILTER}
services: {count: 100, endpointsPerService: 3}
podStartDelay: $DELAY
historyLimit: 200000
YAML
"$BIN/kube-sim" --scenario "$WORK/cluster.yaml" --kubeconfig-out "$WORK/kubeconfig" >"$WORK/url" 2>"$WORK/sim.log" &
PID=$!
until [[ -s "$WORK/url" ]]; do sleep 0.05; kill -0 "$PID"; done
export KUBECONFIG="$WORK/kubeconfig" KUBECACHEDIR="$WORK/kubectl-cache"
kubectl rollout status ds/kube-proxy -n kube-system --timeout=30m >/dev/null

# kube-sim's total of requests served so far; its counts per "<verb> <resource>" go to $WORK/counts.<total>.json.
served() {
  local before line total
  before=$(grep -c 'requests {' "$WORK/sim.log" || true)
  kill -USR1 "$PID"
  until (( $(grep -c 'requests {' "$WORK/sim.log" || true) > before )); do sleep 0.02; done
  line=$(grep 'requests {' "$WORK/sim.log" | tail -n1)
  total=$(grep -oE '"total":[0-9]+' <<<"$line" | cut -d: -f2)
  sed -e 's/^.*requests //' <<<"$line" > "$WORK/counts.$total.json"
  echo "$total"
}
# The requests served between two totals, per "<verb> <resource>", most first.
breakdown() {
  jq -r -n --slurpfile a "$WORK/counts.$1.json" --slurpfile b "$WORK/counts.$2.json" '
    $b[0] | to_entries | map(select(.key | contains(" "))) | map({key, value: (.value - ($a[0][.key] // 0))})
    | map(select(.value > 0)) | sort_by(-.value) | .[] | "  \(.value)\t\(.key)"'
}
# "user sys maxrss_kib" from a /usr/bin/time -v report.
usage() {
  awk -F': ' '/User time/ {u=$2} /System time/ {s=$2} /Maximum resident/ {m=$2} END {print u, s, m}' "$1"
}
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

echo "kube-sim: $NODES nodes, podStartDelay $DELAY, kube-proxy v1.34 (kubeadm objects, RollingUpdate maxUnavailable 1)"

# The "editor" kubectl edit runs: what an operator types, as a sed over kubectl's YAML of the ConfigMap.
cat > "$WORK/set-nftables" <<'SH'
#!/bin/sh
exec sed -i -e 's/^    mode: ""$/    mode: nftables/' "$1"
SH
chmod +x "$WORK/set-nftables"

R0=$(served); T0=$(now_ms)
KUBE_EDITOR="$WORK/set-nftables" /usr/bin/time -v -o "$WORK/kubectl.time" bash -c '
  set -euo pipefail
  kubectl edit cm kube-proxy -n kube-system >/dev/null
  kubectl rollout restart ds/kube-proxy -n kube-system >/dev/null
  kubectl rollout status ds/kube-proxy -n kube-system --timeout=60m >/dev/null
'
T1=$(now_ms); R1=$(served)
kubectl get cm kube-proxy -n kube-system -o jsonpath='{.data.config\.conf}' | grep -qx 'mode: nftables' \
  || { echo "kubectl's edit did not set mode: nftables" >&2; exit 1; }

R2=$(served); T2=$(now_ms)
/usr/bin/time -v -o "$WORK/kpswitch.time" "$BIN/kpswitch" migrate --to iptables --yes --timeout 60m \
  $([[ -n "${NODE_SNAPSHOT:-}" ]] || echo --no-node-snapshot) >"$WORK/kpswitch.log" 2>&1 \
  || { echo "kpswitch migrate failed:" >&2; cat "$WORK/kpswitch.log" >&2; exit 1; }
T3=$(now_ms); R3=$(served)

read -r KU KS KM < <(usage "$WORK/kubectl.time")
read -r PU PS PM < <(usage "$WORK/kpswitch.time")
awk -v ku="$KU" -v ks="$KS" -v km="$KM" -v kr=$((R1 - R0)) -v kw=$((T1 - T0)) \
    -v pu="$PU" -v ps="$PS" -v pm="$PM" -v pr=$((R3 - R2)) -v pw=$((T3 - T2)) 'BEGIN {
  printf "%-34s %12s %12s %8s\n", "", "kubectl", "kpswitch", "ratio"
  printf "%-34s %12.2f %12.2f %7.2fx\n", "CPU time, user+sys (s)", ku + ks, pu + ps, (pu + ps) / (ku + ks)
  printf "%-34s %12.1f %12.1f %7.2fx\n", "peak memory, max RSS (MiB)", km / 1024, pm / 1024, pm / km
  printf "%-34s %12d %12d %7.2fx\n", "API requests served by kube-sim", kr, pr, pr / kr
  printf "%-34s %12.1f %12.1f %7.2fx\n", "wall time (s)", kw / 1000, pw / 1000, pw / kw
}'
echo "kpswitch's requests by verb and resource:"
breakdown "$R2" "$R3"
echo "kubectl's requests by verb and resource:"
breakdown "$R0" "$R1"
echo "kpswitch's last lines:"
tail -n 3 "$WORK/kpswitch.log"
