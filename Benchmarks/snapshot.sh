#!/usr/bin/env bash
# Node snapshot of a 20,000-service kube-proxy iptables ruleset against iptables-save alone, same
# namespace, same run. Needs root, iproute2, iptables, ipset, nft and GNU time (Debian package `time`).
#
#   Benchmarks/snapshot.sh [SERVICES] [ROUNDS]      (defaults 20000 and 5)
#
# Prints the median wall time of each and their ratio, and the peak memory (max RSS) of each.
set -euo pipefail
services=${1:-20000}
rounds=${2:-5}
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
# BIN_DIR=.build/debug measures an existing build instead of building release binaries.
if [ -z "${BIN_DIR:-}" ]; then
    swift build -c release --product kpswitch >/dev/null
    swift build -c release --product kube-proxy-ruleset >/dev/null
    bin=$(swift build -c release --show-bin-path)
else
    bin=$BIN_DIR
fi
[ -x /usr/bin/time ] || { echo "GNU time missing: apt-get install time" >&2; exit 1; }

ns=kpsw-bench-$RANDOM
work=$(mktemp -d)
cleanup() { ip netns delete "$ns" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
ip netns add "$ns"
"$bin/kube-proxy-ruleset" "$services" > "$work/rules.txt" 2> "$work/expected.txt"
ip netns exec "$ns" iptables-nft-restore < "$work/rules.txt"
echo "ruleset: $(wc -c < "$work/rules.txt") bytes, $(cat "$work/expected.txt")"

measure() { # label, command...: appends "seconds maxrss_kb" to $work/<label>
    local label=$1; shift
    /usr/bin/time -f "%e %M" -o "$work/t" "$@" > /dev/null
    cat "$work/t" >> "$work/$label"
}
for i in $(seq "$rounds"); do
    # Alternate the order so neither side always runs on a warmer cache.
    if (( i % 2 )); then
        measure save ip netns exec "$ns" sh -c "iptables-save > $work/save-$i.rules"
        measure snapshot ip netns exec "$ns" "$bin/kpswitch" snapshot --scope node --out "$work/out-$i"
    else
        measure snapshot ip netns exec "$ns" "$bin/kpswitch" snapshot --scope node --out "$work/out-$i"
        measure save ip netns exec "$ns" sh -c "iptables-save > $work/save-$i.rules"
    fi
done
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
save_s=$(cut -d' ' -f1 "$work/save" | median)
snap_s=$(cut -d' ' -f1 "$work/snapshot" | median)
save_kb=$(cut -d' ' -f2 "$work/save" | sort -n | tail -1)
snap_kb=$(cut -d' ' -f2 "$work/snapshot" | sort -n | tail -1)
"$bin/kpswitch" snapshot show "$(ls -d "$work"/out-1/*)" | grep 'iptables-nft-v4'
echo "iptables-save:        median ${save_s}s over $rounds rounds, peak RSS ${save_kb} KiB"
echo "kpswitch snapshot:    median ${snap_s}s over $rounds rounds, peak RSS ${snap_kb} KiB"
awk -v a="$snap_s" -v b="$save_s" 'BEGIN { printf "ratio snapshot/iptables-save: %.2fx (target <= 1.15x)\n", a / b }'
