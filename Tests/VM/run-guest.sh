#!/usr/bin/env bash
# Boots the test-bed guest (Debian's kernel under QEMU/TCG) with a guest script and brings back what
# it left in /results, exiting with the script's status.
#
#   Tests/VM/run-guest.sh [options] SCRIPT
#     --timeout SECONDS    kill a guest still running after this long (default 120)
#     --results DIR        where results land (default: a new temporary folder, printed)
#     --add HOST[:GUEST]   put a file or folder into the guest (default GUEST: /usr/local/bin/NAME)
#                          over a read-only 9p share; an ELF executable is stripped and brings the
#                          libraries ldd lists with it
#     --quiet              do not stream the console to stdout
#
# The script runs as root under `sh -e` in the guest, in /tmp, and may `. /vm/lib.sh` for helpers
# (vm_check, module scenarios). Its output is in DIR/output.log; the whole console in
# DIR/console.log; DIR/status holds the exit status. Exit status: the guest script's; 124 when the
# guest timed out; 125 when the harness failed (image, boot, or the guest never reported).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
timeout=120
results=""
quiet=0
adds=()
while [[ $# -gt 0 ]]; do
    case "$1" in
        --timeout) timeout="$2"; shift 2 ;;
        --results) results="$2"; shift 2 ;;
        --add) adds+=("$2"); shift 2 ;;
        --quiet) quiet=1; shift ;;
        -h|--help) sed -n '2,/^set -e/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'; exit 0 ;;
        -*) echo "run-guest: unknown option $1 (see --help)" >&2; exit 125 ;;
        *) break ;;
    esac
done
[[ $# -eq 1 ]] || { echo "run-guest: give exactly one guest script (see --help)" >&2; exit 125; }
script="$1"
[[ -f "$script" ]] || { echo "run-guest: guest script $script does not exist" >&2; exit 125; }

harness_failure() { echo "run-guest: $*" >&2; exit 125; }

image="$("$here/build-image.sh" | tail -n1)" || harness_failure "the base image could not be built (see above)"

if [[ -z "$results" ]]; then
    results="$(mktemp -d /tmp/kpswitch-vm-results.XXXXXX)"
    echo "run-guest: results in $results" >&2
fi
mkdir -p "$results"
work="$(mktemp -d /tmp/kpswitch-vm-run.XXXXXX)"
trap '[[ -n "${KPSWITCH_VM_KEEP:-}" ]] || rm -rf "$work"' EXIT
overlay="$work/overlay"
share="$work/share"
mkdir -p "$overlay/vm" "$share"
cp "$script" "$overlay/vm/guest.sh"

# Files the base image already has are not packed again (same paths, same host).
in_base() { grep -qxF ".$1" "$image/base.list"; }

# The guest is merged-/usr like the host: /lib, /lib64, /bin, /sbin are symlinks in the base image. A
# later cpio holding a real /lib folder would replace that symlink when the kernel unpacks it, so
# overlay paths are written under /usr.
canonical() {
    case "$1" in
        /lib/*|/lib64/*|/bin/*|/sbin/*) echo "/usr$1" ;;
        *) echo "$1" ;;
    esac
}

add_libraries() { # the libraries a dynamic executable needs, at the paths the loader will look
    local lib
    while read -r lib; do
        in_base "$(canonical "$lib")" && continue
        local target="$share$(canonical "$lib")"
        [[ -e "$target" ]] && continue
        mkdir -p "$(dirname "$target")"
        cp -L "$lib" "$target"
    done < <(ldd "$1" 2>/dev/null | awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\// {print $1}')
}

for spec in "${adds[@]+"${adds[@]}"}"; do
    host="${spec%%:*}"
    guest="${spec#*:}"
    [[ "$spec" == *:* ]] || guest="/usr/local/bin/$(basename "$host")"
    [[ -e "$host" ]] || harness_failure "--add $host: no such file"
    [[ "$guest" == /* ]] || harness_failure "--add $spec: the guest path must be absolute"
    guest="$(canonical "$guest")"
    mkdir -p "$share$(dirname "$guest")"
    cp -rL "$host" "$share$guest"
    if [[ -f "$host" && "$(head -c 4 "$host" | od -An -tx1 | tr -d ' ')" == 7f454c46 ]]; then
        # Debug builds carry most of their size as symbols: the guest needs none, and every byte of
        # the initramfs is unpacked under TCG at each boot.
        strip -s "$share$guest" 2>/dev/null || true
        if [[ -x "$host" ]] && ldd "$host" >/dev/null 2>&1; then
            add_libraries "$host"
        fi
    fi
done

# The kernel unpacks concatenated cpio archives in order, so the guest script rides on the cached base.
# Added files go through a read-only 9p share instead: the guest reads only the pages it touches,
# where unpacking them from the initramfs would cost seconds per megabyte under TCG.
share_device=()
if [[ ${#adds[@]} -gt 0 ]]; then
    touch "$overlay/vm/has-share"
    share_device=(-virtfs "local,path=$share,mount_tag=vmshare,security_model=none,readonly=on")
fi
(cd "$overlay" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc --quiet --owner 0:0) > "$work/run.cpio"
cat "$image/base.cpio" "$work/run.cpio" > "$work/initrd"

console="$results/console.log"
channel="$work/channel"
: > "$channel"
set +e
timeout --kill-after=5 "$timeout" qemu-system-x86_64 \
    -accel tcg -m 1024 -smp 1 -nodefaults -display none -no-reboot \
    -serial stdio -serial "file:$channel" "${share_device[@]+"${share_device[@]}"}" \
    -kernel "$image/vmlinux" -initrd "$work/initrd" \
    -append "console=ttyS0 panic=-1 edd=off quiet no_timer_check ${KPSWITCH_VM_APPEND:-}" \
    < /dev/null 2>&1 | tr -d '\r' | if [[ $quiet == 1 ]]; then cat > "$console"; else tee "$console"; fi
qemu_status=${PIPESTATUS[0]}
set -e

tail_of_console() { echo "--- console tail ($console) ---" >&2; tail -n 40 "$console" >&2; echo "---" >&2; }

if [[ $qemu_status == 124 || $qemu_status == 137 ]]; then
    echo "run-guest: the guest did not finish within ${timeout}s and was killed" >&2
    tail_of_console
    echo 124 > "$results/status"
    exit 124
fi
if ! grep -qx 'KPSWITCH-VM-END' "$channel"; then
    echo "run-guest: the guest stopped without reporting a result (qemu exit status $qemu_status; kernel panic, or the script powered off?)" >&2
    tail_of_console
    echo 125 > "$results/status"
    exit 125
fi
status="$(sed -n '1s/^KPSWITCH-VM-STATUS \([0-9][0-9]*\)$/\1/p' "$channel")"
[[ -n "$status" ]] || harness_failure "the guest's report does not start with a status line"
sed -e '1d' -e '/^KPSWITCH-VM-END$/,$d' "$channel" | base64 -d | tar -xmf - -C "$results" \
    || harness_failure "the guest's results could not be unpacked"
echo "$status" > "$results/status"
if [[ $status != 0 ]]; then
    echo "run-guest: the guest script failed with status $status" >&2
    tail_of_console
fi
exit "$status"
