# Shell helpers for guest scripts: `. /vm/lib.sh`. They shape the guest's modules into the
# scenarios node-scope code meets on real nodes. $KVER is the running kernel's release.
# Debian's busybox sh runs its own applets before PATH, so kmod's tools are named by path here: busybox's
# depmod writes no modules.*.bin, and kmod's modprobe (the one kpswitch and the agent find) would read
# stale indexes.

# vm_module_file NAME: the .ko path of a module, relative to /lib/modules/$KVER.
vm_module_file() {
    path="$(/usr/sbin/modinfo -n "$1")" || return 1
    echo "${path#/lib/modules/$KVER/}" | sed "s#^/usr/lib/modules/$KVER/##"
}

# vm_remove_module NAME: the module is absent from this kernel (no .ko, not built in).
vm_remove_module() {
    file="$(vm_module_file "$1")" || return 1
    rm -f "/lib/modules/$KVER/$file"
    /usr/sbin/depmod "$KVER"
}

# vm_mark_builtin NAME: the kernel reports the module built in through modules.builtin, as on
# kernels configured with =y. Only kmod's view changes: nothing is loaded and /sys/module/NAME is
# absent, unlike a module that is truly built in (ipv6 is, in Debian's kernel).
vm_mark_builtin() {
    file="$(vm_module_file "$1")" || return 1
    rm -f "/lib/modules/$KVER/$file"
    echo "$file" >> "/lib/modules/$KVER/modules.builtin"
    /usr/sbin/depmod "$KVER"
}

# vm_load_ipvs: IPVS with the schedulers kube-proxy uses, loaded the way a node loads them.
vm_load_ipvs() {
    for m in ip_vs ip_vs_rr ip_vs_wrr ip_vs_sh; do /usr/sbin/modprobe "$m"; done
}

# vm_loaded NAME: succeeds when /proc/modules lists the module.
vm_loaded() {
    grep -q "^$1 " /proc/modules
}

# vm_check NAME COMMAND...: runs the command and keeps its status and output in
# $RESULTS/checks/NAME.{status,out} without stopping the script, so several checks share one boot.
vm_check() {
    name="$1"
    shift
    mkdir -p "$RESULTS/checks"
    if "$@" > "$RESULTS/checks/$name.out" 2>&1; then
        echo 0 > "$RESULTS/checks/$name.status"
    else
        echo $? > "$RESULTS/checks/$name.status"
    fi
}
