#!/bin/busybox sh
# /init of the test-bed guest. Runs /vm/guest.sh (appended per run by run-guest.sh) under `sh -e`,
# its output on the console and in /results/output.log, then sends /results and the exit status to
# the host over the second serial port and powers off.
#
# Protocol on ttyS1 (raw): "KPSWITCH-VM-STATUS <n>", base64 of a tar of /results, "KPSWITCH-VM-END".
# A run whose END line never arrives did not finish (hang, panic): the host reports it as a failure.
/bin/busybox mount -t proc proc /proc
/bin/busybox mount -t sysfs sysfs /sys
/bin/busybox mount -t devtmpfs devtmpfs /dev
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin
export HOME=/root RESULTS=/results KVER="$(cat /vm/kernel-version)"
# Kernel messages stay on the console log only (dmesg) so they cannot interleave with guest output.
echo 1 > /proc/sys/kernel/printk
hostname kpswitch-vm
ip link set lo up
mkdir -p /results /tmp /run /var/run
stty -F /dev/ttyS1 raw -echo

# Files added for this run sit on the host's 9p share; each is linked at its guest path.
share_files() {
    for m in virtio_pci 9pnet_virtio 9p; do modprobe "$m" || return 1; done
    mkdir -p /vm/share
    mount -t 9p -o trans=virtio,version=9p2000.L,cache=loose,ro vmshare /vm/share || return 1
    (cd /vm/share && find . ! -type d) | while read -r file; do
        file="${file#.}"
        mkdir -p "$(dirname "$file")" && ln -sf "/vm/share$file" "$file" || return 1
    done
}

echo "=== kpswitch-vm: kernel $(uname -r), running guest script ==="
cd /tmp
if [ -f /vm/has-share ] && ! share_files; then
    echo "kpswitch-vm: the host's files could not be mounted over 9p" | tee /results/output.log
    status=125
elif [ -f /vm/guest.sh ]; then
    { sh -e /vm/guest.sh; echo $? > /tmp/.status; } 2>&1 | tee /results/output.log
    status="$(cat /tmp/.status 2>/dev/null || echo 125)"
else
    echo "kpswitch-vm: no /vm/guest.sh in the initramfs" | tee /results/output.log
    status=125
fi
echo "=== kpswitch-vm: guest script exited with status $status ==="
dmesg > /results/dmesg.log 2>&1

{
    echo "KPSWITCH-VM-STATUS $status"
    tar -C /results -cf - . | base64
    echo "KPSWITCH-VM-END"
} > /dev/ttyS1
sync
poweroff -f
