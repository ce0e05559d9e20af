#!/usr/bin/env bash
# Builds the base image of the real-kernel test bed: Debian's kernel (with IPVS as modules), the
# netfilter/IPVS module subset with kmod's indexes, busybox, kmod, ipvsadm, iptables, ipset and nft.
#
#   Tests/VM/build-image.sh            build if needed, print the image folder
#   Tests/VM/build-image.sh --force    rebuild, with the kernel linux-image-amd64 points at now
#
# Everything lands in Tests/VM/cache/ (ignored by git). A second run with nothing changed returns at
# once: the image is keyed by this script, the guest init and the host package versions it copies
# (--force, or removing the cache, moves to the kernel linux-image-amd64 points at after an update).
# Binaries under test are not part of the base image: run-guest.sh shares them per run over 9p.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cache="${KPSWITCH_VM_CACHE:-$here/cache}"
image="$cache/image"
force=0
[[ "${1:-}" == "--force" ]] && force=1

fail() { echo "build-image: $*" >&2; exit 1; }

need() { # need COMMAND DEBIAN-PACKAGE
    command -v "$1" >/dev/null 2>&1 || fail "$1 is missing: install the Debian package $2 (apt-get install $2)"
}
need apt-get apt
need dpkg dpkg
need cpio cpio
need kmod kmod
need ipvsadm ipvsadm
need iptables iptables
need ipset ipset
need nft nftables
need dash dash
need ldd libc-bin
need xz xz-utils
need strip binutils
need qemu-system-x86_64 qemu-system-x86
[[ -x /bin/busybox ]] && file_is_static=$(ldd /bin/busybox 2>&1 | grep -c 'not a dynamic' || true)
[[ "${file_is_static:-0}" == 1 ]] || fail "/bin/busybox is missing or not static: install the Debian package busybox-static"

# Concurrent runs (several test processes, a hand run) wait for one build instead of sharing a stage.
mkdir -p "$cache"
exec 9>"$cache/.lock"
flock 9

tool_versions="$(dpkg-query -W -f '${Package} ${Version}\n' busybox-static kmod ipvsadm iptables ipset nftables dash libc6 2>/dev/null)"
key="$(printf '%s\n' "$tool_versions" | cat - "$here/build-image.sh" "$here/guest-init.sh" "$here/guest-lib.sh" | sha256sum | cut -c1-16)"

# The cached image is reused without asking apt which kernel is current (apt-cache takes seconds on a
# busy host, and every boot passes here): --force or an empty cache picks up a newer kernel.
if [[ $force == 0 && -f "$image/key" && "$(cat "$image/key")" == "$key" && -f "$image/base.cpio" && -f "$image/base.list" && -f "$image/vmlinux" ]]; then
    echo "$image"
    exit 0
fi

# The kernel package linux-image-amd64 points at today (e.g. linux-image-6.1.0-56-amd64).
kernel_pkg="$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')"
[[ -n "$kernel_pkg" ]] || fail "apt-cache knows no linux-image-amd64: run 'apt-get update' first"
kver="${kernel_pkg#linux-image-}"

mkdir -p "$cache/debs"
deb="$(ls "$cache/debs/${kernel_pkg}"_*.deb 2>/dev/null | head -n1 || true)"
if [[ -z "$deb" ]]; then
    echo "build-image: downloading $kernel_pkg" >&2
    # apt-get download writes into the working directory; as root it warns that _apt cannot read it.
    (cd "$cache/debs" && apt-get download -q "$kernel_pkg" >&2 2>/dev/null) \
        || (cd "$cache/debs" && apt-get download "$kernel_pkg" >&2) \
        || fail "apt-get download $kernel_pkg failed: check the network and run 'apt-get update'"
    deb="$(ls "$cache/debs/${kernel_pkg}"_*.deb | head -n1)"
fi

unpacked="$cache/kernel-$kver"
if [[ ! -f "$unpacked/.done" ]]; then
    echo "build-image: unpacking $(basename "$deb")" >&2
    rm -rf "$unpacked"
    mkdir -p "$unpacked"
    dpkg -x "$deb" "$unpacked"
    touch "$unpacked/.done"
fi
kmods="$unpacked/lib/modules/$kver"
[[ -d "$kmods/kernel/net/netfilter/ipvs" ]] || fail "$kernel_pkg has no IPVS modules under $kmods"

stage="$cache/stage"
rm -rf "$stage"
mkdir -p "$stage"/{usr/bin,usr/sbin,usr/lib/x86_64-linux-gnu,usr/lib64,proc,sys,dev,tmp,results,etc,root,vm}
# Debian 12 is merged-/usr; the guest is too, so paths from ldd and from Debian's packages both resolve.
ln -s usr/bin "$stage/bin"
ln -s usr/sbin "$stage/sbin"
ln -s usr/lib "$stage/lib"
ln -s usr/lib64 "$stage/lib64"

# copy_in PATH: the file at its own path in the guest (symlinks followed), plus every library ldd names.
copy_in() {
    local path="$1" lib
    mkdir -p "$stage$(dirname "$path")"
    cp -L "$path" "$stage$path"
    while read -r lib; do
        [[ -e "$stage$lib" ]] && continue
        mkdir -p "$stage$(dirname "$lib")"
        cp -L "$lib" "$stage$lib"
    done < <(ldd "$path" 2>/dev/null | awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\// {print $1}')
}

# Modules: only the folders kube-proxy's modes use, then kmod's own indexes built for that subset, so
# modprobe in the guest resolves dependencies and softdeps (libcrc32c -> crc32c) like on a node.
mdest="$stage/usr/lib/modules/$kver"
mkdir -p "$mdest/kernel/lib" "$mdest/kernel/crypto" "$mdest/kernel/arch/x86/crypto" "$mdest/kernel/net/ipv4" "$mdest/kernel/net/ipv6"
cp -r "$kmods/kernel/net/netfilter" "$mdest/kernel/net/"
cp -r "$kmods/kernel/net/ipv4/netfilter" "$mdest/kernel/net/ipv4/"
cp -r "$kmods/kernel/net/ipv6/netfilter" "$mdest/kernel/net/ipv6/"
# virtio and 9p carry the per-run files (binaries under test): read lazily from a host folder instead
# of unpacked from the initramfs, which under TCG costs seconds per megabyte.
mkdir -p "$mdest/kernel/drivers" "$mdest/kernel/fs"
cp -r "$kmods/kernel/drivers/virtio" "$mdest/kernel/drivers/"
cp -r "$kmods/kernel/net/9p" "$mdest/kernel/net/"
cp -r "$kmods/kernel/fs/9p" "$kmods/kernel/fs/netfs" "$kmods/kernel/fs/fscache" "$mdest/kernel/fs/"
cp "$kmods/kernel/lib/libcrc32c.ko" "$mdest/kernel/lib/"
# dummy: kube-proxy's IPVS mode binds every service address to the dummy link kube-ipvs0.
mkdir -p "$mdest/kernel/drivers/net"
cp "$kmods/kernel/drivers/net/dummy.ko" "$mdest/kernel/drivers/net/"
cp "$kmods"/kernel/crypto/crc32c_generic.ko "$mdest/kernel/crypto/"
cp "$kmods"/kernel/arch/x86/crypto/crc32c-intel.ko "$mdest/kernel/arch/x86/crypto/"
cp "$kmods"/modules.builtin "$kmods"/modules.builtin.modinfo "$kmods"/modules.order "$mdest/"
depmod -b "$stage" "$kver" || fail "depmod failed for $kver"
[[ -s "$mdest/modules.dep" ]] || fail "depmod wrote no modules.dep under $mdest"

# Tools: kmod as modprobe (busybox's ignores softdeps), and the netfilter front ends kube-proxy uses.
copy_in /usr/bin/kmod
for name in modprobe depmod insmod rmmod lsmod modinfo; do ln -sf /usr/bin/kmod "$stage/usr/sbin/$name"; done
copy_in /usr/sbin/ipvsadm
cp /usr/sbin/ipvsadm-save /usr/sbin/ipvsadm-restore "$stage/usr/sbin/"
copy_in /usr/sbin/ipset
# dash: the shell of kube-proxy's image (distroless-iptables), which the node agent's script runs in.
copy_in /usr/bin/dash
copy_in /usr/sbin/nft
copy_in /usr/sbin/xtables-nft-multi
copy_in /usr/sbin/xtables-legacy-multi
for link in /usr/sbin/ip6tables* /usr/sbin/iptables* /usr/sbin/arptables* /usr/sbin/ebtables*; do
    [[ -L "$link" ]] || continue
    target="$(basename "$(readlink -f "$link")")"
    [[ "$target" == xtables-* ]] && ln -sf "$target" "$stage/usr/sbin/$(basename "$link")"
done
for ext in /usr/lib/x86_64-linux-gnu/xtables/*.so; do copy_in "$ext"; done
mkdir -p "$stage/etc/iproute2" "$stage/var/lib" "$stage/var/run" "$stage/run"
printf 'root:x:0:0:root:/root:/bin/sh\n' > "$stage/etc/passwd"
printf 'root:x:0:\n' > "$stage/etc/group"
printf '%s\n' "$kver" > "$stage/vm/kernel-version"

# busybox last, linking only names no real tool took.
cp /bin/busybox "$stage/usr/bin/busybox"
while read -r applet; do
    [[ -e "$stage/$applet" || -L "$stage/$applet" ]] && continue
    mkdir -p "$stage/$(dirname "$applet")"
    ln -s /usr/bin/busybox "$stage/$applet"
done < <(/bin/busybox --list-full | sed -e 's#^bin/#usr/bin/#' -e 's#^sbin/#usr/sbin/#')

install -m 0755 "$here/guest-init.sh" "$stage/init"
install -m 0644 "$here/guest-lib.sh" "$stage/vm/lib.sh"

mkdir -p "$image"
rm -f "$image/vmlinuz"
# Uncompressed: under TCG the kernel unpacks a plain cpio faster than it inflates a gzip one.
(cd "$stage" && find . -mindepth 1 | LC_ALL=C sort) > "$image/base.list"
(cd "$stage" && cpio -o -H newc --quiet --owner 0:0 < "$image/base.list") > "$image/base.cpio.tmp"
mv "$image/base.cpio.tmp" "$image/base.cpio"
# QEMU boots the uncompressed ELF through its PVH entry: no BIOS boot path and no xz inflate under
# TCG, which halves the boot (measured 30 s against 61 s on a loaded host).
bzimage="$unpacked/boot/vmlinuz-$kver"
xz_offset="$(LC_ALL=C grep -abo $'\xfd7zXZ' "$bzimage" | head -n1 | cut -d: -f1)"
[[ -n "$xz_offset" ]] || fail "$bzimage is not xz-compressed; cannot extract the ELF kernel"
tail -c +"$((xz_offset + 1))" "$bzimage" | xz -dcq > "$image/vmlinux.tmp" 2>/dev/null || true
[[ "$(head -c 4 "$image/vmlinux.tmp" | od -An -tx1 | tr -d ' ')" == 7f454c46 ]] \
    || fail "could not extract an ELF kernel from $bzimage"
mv "$image/vmlinux.tmp" "$image/vmlinux"
printf '%s\n' "$kver" > "$image/kernel-version"
printf '%s\n' "$key" > "$image/key"
rm -rf "$stage"
echo "build-image: built $image ($(du -h "$image/base.cpio" | cut -f1) initramfs, kernel $kver)" >&2
echo "$image"
