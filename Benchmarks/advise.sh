#!/usr/bin/env bash
# `kpswitch advise` against `kubectl get svc,endpointslices -A -o json` on the same kube-sim server in the same
# run: a kubeadm v1.34 cluster with 10,000 Services and 100,000 endpoints (Scenarios/scale-10k.yaml).
# Wall time with hyperfine, peak RSS with /usr/bin/time -v (median of RUNS), and the ratios advise/kubectl.
# Usage: Benchmarks/advise.sh [BIN_DIR]   (default: builds kpswitch and kube-sim in release)
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${1:-}
RUNS=${RUNS:-5}
if [[ -z "$BIN" ]]; then
  swift build -c release --product kube-sim >/dev/null
  swift build -c release --product kpswitch >/dev/null
  BIN=$(swift build -c release --show-bin-path)
fi
WORK=$(mktemp -d)
PID=
trap '[[ -n "$PID" ]] && kill "$PID" 2>/dev/null; rm -rf "$WORK"' EXIT
"$BIN/kube-sim" --scenario Scenarios/scale-10k.yaml --kubeconfig-out "$WORK/kubeconfig" >"$WORK/url" 2>"$WORK/log" &
PID=$!
until [[ -s "$WORK/url" ]]; do sleep 0.05; kill -0 "$PID"; done
export KUBECACHEDIR="$WORK/cache"
ADVISE="$BIN/kpswitch advise --kubeconfig $WORK/kubeconfig -o json"
KUBECTL="kubectl --kubeconfig $WORK/kubeconfig get svc,endpointslices -A -o json"

# Both must see the whole cluster, or the comparison means nothing.
$ADVISE >"$WORK/advice.json"
python3 - "$WORK/advice.json" <<'PY'
import json, sys
a = json.load(open(sys.argv[1]))
f = a["facts"]
assert f["services"] == 10001 and f["endpoints"] == 100001, f
print(f"advise: recommends {a['recommended']} from {f['services']} services, {f['endpoints']} endpoints")
PY
$KUBECTL >"$WORK/kubectl.json"
python3 - "$WORK/kubectl.json" <<'PY'
import json, sys
items = json.load(open(sys.argv[1]))["items"]
endpoints = sum(len(i.get("endpoints") or []) for i in items if i["kind"] == "EndpointSlice")
print(f"kubectl: {len(items)} objects, {endpoints} endpoints")
assert endpoints == 100001
PY

hyperfine --warmup 1 --runs "$RUNS" --export-json "$WORK/time.json" \
  -n advise "$ADVISE >/dev/null" -n kubectl "$KUBECTL >/dev/null"

peak() {  # median peak RSS in KiB over RUNS runs
  for _ in $(seq "$RUNS"); do
    /usr/bin/time -v sh -c "$1 >/dev/null" 2>&1 | awk '/Maximum resident set size/ {print $6}'
  done | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'
}
RSS_ADVISE=$(peak "$ADVISE")
RSS_KUBECTL=$(peak "$KUBECTL")
python3 - "$WORK/time.json" "$RSS_ADVISE" "$RSS_KUBECTL" <<'PY'
import json, sys
r = {x["command"]: x for x in json.load(open(sys.argv[1]))["results"]}
a, k = r["advise"], r["kubectl"]
ra, rk = int(sys.argv[2]), int(sys.argv[3])
print(f"time   advise {a['mean']:.2f} s ± {a['stddev']:.2f}   kubectl {k['mean']:.2f} s ± {k['stddev']:.2f}   "
      f"advise/kubectl = {a['mean'] / k['mean']:.2f}")
print(f"peak RSS  advise {ra / 1024:.0f} MiB   kubectl {rk / 1024:.0f} MiB   advise/kubectl = {ra / rk:.2f}")
PY
