#!/usr/bin/env bash
# Full IPVS table read: kpswitch's IPVS module (through Tests/IPVSProbe, `ipvs-probe save`) against
# `ipvsadm -S -n`, both producing the same `-S -n` text, in ONE boot of the real-kernel guest
# (Debian 6.1 under QEMU/TCG, Tests/VM/run-guest.sh). Runs alternate between the two tools; times have
# 10 ms resolution (/proc/uptime).
#
#   Benchmarks/ipvs-read.sh [--services N] [--runs N]     (defaults: 10000 services, 7 runs each)
#
# Each service has two NAT destinations, as kube-proxy programs a ClusterIP with two endpoints. The
# table is loaded with `ipvsadm -R`. Prints per-run wall times (ms), the medians and minimums, and their
# ratios. TCG on a busy host is noisy: the minimum is the least disturbed run of each tool.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
services=10000
runs=7
while [[ $# -gt 0 ]]; do
    case "$1" in
        --services) services="$2"; shift 2 ;;
        --runs) runs="$2"; shift 2 ;;
        *) echo "usage: $0 [--services N] [--runs N]" >&2; exit 2 ;;
    esac
done

echo "ipvs-read: building ipvs-probe (release, static Swift runtime)" >&2
(cd "$root" && swift build -c release --static-swift-stdlib --product ipvs-probe --build-path .build-bench >&2)
work="$(mktemp -d /tmp/ipvs-read.XXXXXX)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/bin" "$work/lib"
cp "$root/.build-bench/release/ipvs-probe" "$work/bin/"
# Folders, not files: run-guest.sh would place an executable's libraries under /lib, which replaces the
# guest's /lib -> usr/lib link. With the Swift runtime linked in, only the C++ runtime is missing there.
cp -L /lib/x86_64-linux-gnu/libstdc++.so.6 /lib/x86_64-linux-gnu/libgcc_s.so.1 "$work/lib/"

cat > "$work/guest.sh" <<GUEST
. /vm/lib.sh
vm_load_ipvs
awk -v n=$services 'BEGIN {
    for (i = 0; i < n; i++) {
        a = int(i / 250) % 250; b = i % 250 + 1; c = int(i / 62500)
        s = "10." (96 + c) "." a "." b ":80"
        print "-A -t " s " -s rr"
        print "-a -t " s " -r 10.244." a "." b ":8080 -m -w 1"
        print "-a -t " s " -r 10.245." a "." b ":8080 -m -w 1"
    }
}' > /tmp/table.rules
ipvsadm -R < /tmp/table.rules
echo "services: \$(ipvsadm -S -n | grep -c '^-A')" > \$RESULTS/bench.txt
# busybox date has no %N: /proc/uptime counts in centiseconds, plenty for reads of seconds.
now() { read up rest < /proc/uptime; echo "\${up%.*}\${up#*.}"; }
ms() { echo \$(( (\$(now) - \$1) * 10 )); }
i=0
while [ \$i -lt $runs ]; do
    t=\$(now); /opt/ipvs/ipvs-probe save > /tmp/ours.txt; echo "kpswitch \$(ms \$t)" >> \$RESULTS/bench.txt
    t=\$(now); ipvsadm -S -n > /tmp/theirs.txt; echo "ipvsadm \$(ms \$t)" >> \$RESULTS/bench.txt
    i=\$((i + 1))
done
# Same table, same text (as sets): the comparison is only fair if both read everything.
sort /tmp/ours.txt > /tmp/a; sort /tmp/theirs.txt > /tmp/b
cmp -s /tmp/a /tmp/b && echo "outputs: identical as sets (\$(wc -l < /tmp/a) lines)" >> \$RESULTS/bench.txt \
    || echo "outputs: DIFFERENT" >> \$RESULTS/bench.txt
GUEST

echo "ipvs-read: booting the guest ($services services x 2 destinations, $runs runs each)" >&2
"$root/Tests/VM/run-guest.sh" --quiet --timeout 3600 --results "$work/results" \
    --add "$work/bin:/opt/ipvs" \
    --add "$work/lib:/usr/lib/x86_64-linux-gnu" \
    "$work/guest.sh" >&2
cat "$work/results/bench.txt"
median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
ours="$(awk '$1 == "kpswitch" { print $2 }' "$work/results/bench.txt" | median)"
theirs="$(awk '$1 == "ipvsadm" { print $2 }' "$work/results/bench.txt" | median)"
ours_min="$(awk '$1 == "kpswitch" { print $2 }' "$work/results/bench.txt" | sort -n | head -n1)"
theirs_min="$(awk '$1 == "ipvsadm" { print $2 }' "$work/results/bench.txt" | sort -n | head -n1)"
echo "median ms: kpswitch $ours, ipvsadm -S -n $theirs"
echo "minimum ms: kpswitch $ours_min, ipvsadm -S -n $theirs_min"
awk -v a="$theirs" -v b="$ours" -v c="$theirs_min" -v d="$ours_min" \
    'BEGIN { printf "ratio ipvsadm / kpswitch: %.2f on medians, %.2f on minimums\n", a / b, c / d }'
