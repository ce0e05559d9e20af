# Guest script of IPVSVMTests: every IPVS scenario in one boot. It only runs ipvsadm and ipvs-probe and
# keeps their output and exit status under $RESULTS; the host-side tests judge them.
# ipvs-probe is expected in $PATH (IPVSVMTests installs it as /usr/local/bin/ipvs-probe).
. /vm/lib.sh
R=$RESULTS
run() { # run NAME COMMAND...: stdout in NAME.out, stderr in NAME.err, status in NAME.status
    name="$1"; shift
    if "$@" > "$R/$name.out" 2> "$R/$name.err"; then echo 0 > "$R/$name.status"; else echo $? > "$R/$name.status"; fi
}

# 1. The family is absent. Kernel 6.1 autoloads ip_vs when the family is resolved (genl module alias), so
#    autoloading is switched off first, as on a node without usermode helpers.
original_modprobe="$(cat /proc/sys/kernel/modprobe)"
echo /nonexistent > /proc/sys/kernel/modprobe
run absent-module-not-loaded ipvs-probe save
ko="$(vm_module_file ip_vs)"
mv "/lib/modules/$KVER/$ko" /tmp/ip_vs.ko.aside
/usr/sbin/depmod "$KVER"
run absent-not-in-kernel ipvs-probe save
mv /tmp/ip_vs.ko.aside "/lib/modules/$KVER/$ko"
/usr/sbin/depmod "$KVER"
echo "$original_modprobe" > /proc/sys/kernel/modprobe

# 2. A mixed table programmed with ipvsadm.
vm_load_ipvs
for m in ip_vs_lc ip_vs_wlc ip_vs_mh ip_vs_sed ip_vs_nq ip_vs_dh ip_vs_pe_sip; do /usr/sbin/modprobe "$m"; done
ipvsadm --set 1000 100 200
cat > /tmp/mixed.rules <<'RULES'
-A -t 10.96.0.1:443 -s rr -p 10800
-a -t 10.96.0.1:443 -r 192.168.0.1:6443 -m -w 1
-a -t 10.96.0.1:443 -r 192.168.0.2:6443 -m -w 1 -x 100 -y 10
-A -u 10.96.0.10:53 -s wrr
-a -u 10.96.0.10:53 -r 172.17.0.2:53 -m -w 3
-a -u 10.96.0.10:53 -r 172.17.0.3:53 -m -w 0
-A --sctp-service 10.96.0.20:3868 -s sh -b sh-fallback,sh-port
-a --sctp-service 10.96.0.20:3868 -r 10.1.0.5:3868 -g -w 1
-A -t 10.96.0.30:80 -s mh -b mh-port
-a -t 10.96.0.30:80 -r 10.1.0.6:80 -i -w 1 --tun-type ipip
-a -t 10.96.0.30:80 -r 10.1.0.7:80 -i -w 2 --tun-type gue --tun-port 6080 --tun-csum
-a -t 10.96.0.30:80 -r 10.1.0.8:80 -i -w 3 --tun-type gre --tun-csum
-A -t 10.96.0.40:8080 -s lc -p 600 -M 255.255.255.0
-a -t 10.96.0.40:8080 -r 10.1.0.9:8080 -g -w 5
-A -u 10.96.0.50:5060 -s wlc -p 300 --pe sip
-a -u 10.96.0.50:5060 -r 10.1.0.10:5060 -m -w 1
-A -u 10.96.0.60:4789 -s sed -o
-A -t 10.96.0.70:22 -s nq -b flag-1
-A -f 100 -s rr
-a -f 100 -r 10.0.0.2:0 -g -w 1
-A -f 7 -6 -s dh -p 60 -M 64
-a -f 7 -6 -r [2001:db8::7]:0 -g -w 2
-A -t [fd00::1]:443 -s rr -p 3600 -M 96
-a -t [fd00::1]:443 -r [fd00::10]:8443 -m -w 1
-a -t [fd00::1]:443 -r [fd00::11]:8443 -m -w 2
-A -u [fd00::a]:53 -s rr
-a -u [fd00::a]:53 -r [fd00::b]:53 -g -w 1
RULES
# 1,000 more services the way kube-proxy programs them: one per ClusterIP, NAT to two endpoints.
i=0
while [ $i -lt 1000 ]; do
    a=$((i / 250)); b=$((i % 250 + 1))
    echo "-A -t 10.100.$a.$b:80 -s rr"
    echo "-a -t 10.100.$a.$b:80 -r 10.244.$a.$b:8080 -m -w 1"
    echo "-a -t 10.100.$a.$b:80 -r 10.245.$a.$b:8080 -m -w 1"
    i=$((i + 1))
done >> /tmp/mixed.rules
run program ipvsadm -R < /tmp/mixed.rules


# 3. Both tools read the same table.
run ipvsadm-save ipvsadm -S -n
run probe-save ipvs-probe save
run probe-save-thresholds ipvs-probe save --thresholds
run probe-details ipvs-probe details
run probe-info ipvs-probe info
run ipvsadm-list ipvsadm -L -n
run ipvsadm-timeout ipvsadm -L -n --timeout
run ipvsadm-thresholds ipvsadm -L -n --thresholds
run probe-nobody ipvs-probe --as-nobody save

# 4. ipvsadm restores our text to the same table.
ipvsadm -C
run ipvsadm-restore-ours ipvsadm -R < "$R/probe-save.out"
run after-ipvsadm-restore ipvsadm -S -n

# 5. What we write, ipvsadm sees: our restore of ipvsadm's text, then edits and deletions both ways.
ipvsadm -C
run probe-restore ipvs-probe restore "$R/ipvsadm-save.out"
run after-probe-restore ipvsadm -S -n
cat > /tmp/edits.rules <<'RULES'
-E -t 10.96.0.1:443 -s wlc -p 60 -M 255.255.0.0
-e -t 10.96.0.1:443 -r 192.168.0.1:6443 -m -w 7
-e -t 10.96.0.40:8080 -r 10.1.0.9:8080 -m -w 9
-d -t 10.96.0.1:443 -r 192.168.0.2:6443
-a -t 10.96.0.1:443 -r 192.168.0.3:6443 -i -w 4 --tun-type gue --tun-port 5555 --tun-nocsum
-E -u [fd00::a]:53 -s sh -b sh-port
-D -t 10.96.0.70:22
-D -f 100
-A -u 10.96.0.80:80 -s rr -o
-a -u 10.96.0.80:80 -r 10.2.0.1:80 -m -w 1 -x 50 -y 5
RULES
cp /tmp/edits.rules "$R/edits.rules"
run probe-apply ipvs-probe apply /tmp/edits.rules
run after-probe-apply ipvsadm -S -n
run after-probe-apply-thresholds ipvsadm -L -n --thresholds
ipvsadm -C
ipvsadm -R < "$R/ipvsadm-save.out"
run ipvsadm-apply ipvsadm -R < /tmp/edits.rules
run after-ipvsadm-apply ipvsadm -S -n
run after-ipvsadm-apply-thresholds ipvsadm -L -n --thresholds

# 6. Cleanup removes exactly a chosen set, tolerating services already gone.
cat > /tmp/deletes.rules <<'RULES'
-D -t 10.100.0.1:80
-D -t 10.100.0.2:80
-D -f 7 -6
-D -t 10.9.9.9:80
RULES
cp /tmp/deletes.rules "$R/deletes.rules"
run before-delete ipvsadm -S -n
run probe-delete ipvs-probe delete /tmp/deletes.rules
run after-delete ipvsadm -S -n
cat > /tmp/lookups.rules <<'RULES'
-D -t 10.100.0.1:80
-D -t 10.100.0.3:80
-D -u [fd00::a]:53
RULES
run probe-lookup ipvs-probe lookup /tmp/lookups.rules

# The results travel back over an emulated serial port: compress the bulky listings (the host unpacks them).
gzip "$R"/*.out
