import NodeState
import ProxyConfig

/// The POSIX sh program an agent pod runs on its node: it reads the node facts and prints them framed
/// (see `NodeAgentLog`). It may use only what kube-proxy's image (distroless-iptables) holds: dash, cat,
/// grep, wc, sleep, rm, ln, chmod, kmod, iptables/ip6tables in both backends, ipset and nft; there is no
/// `ip`, `ls`, `mkdir`, `mktemp` or `ipvsadm`, so IPVS is read from `/proc/net/ip_vs` and links from
/// `/sys/class/net`. A tool the image lacks becomes a `skipped` section naming it, never an empty one.
///
/// The caller passes a fresh nonce as `$1` (`sh -c SCRIPT kpswitch-agent NONCE [SNAPSHOT]`), so a log from
/// another run, or one cut before its end line, cannot be taken for this run's answer. With a snapshot id
/// as `$2` it also writes the node's bundle into `snapshotRoot/ID` (a hostPath the pod mounts) and reports
/// only each file's size, lines and counts in its `snapshot` section: the rule text stays on the node.
public enum NodeAgentScript {
    /// 2: the `snapshot` section; 3: `service-ports`.
    public static let version = 3

    /// Where node bundles live on the node; `NodeAgentPod` mounts `ID` under it from the host.
    public static let snapshotRoot = "/var/lib/kpswitch/snapshots"

    /// The modules whose state the facts carry: IPVS, every scheduler kube-proxy accepts, conntrack
    /// (`nf_conntrack_ipv4` before 4.19) and nf_tables.
    static let modules = ["ip_vs"] + ProxyTarget.ipvsSchedulers.map { "ip_vs_\($0)" }
        + ["nf_conntrack", "nf_conntrack_ipv4", "nf_tables"]

    /// The sections a complete version-1 log holds, in order.
    static let sections = [
        "hostname", "osrelease", "proc-modules", "modules-builtin", "sys-module", "modprobe", "ip_vs",
    ] + IPTablesChains.Backend.allCases.flatMap { backend in
        IPTablesChains.Family.allCases.map { "iptables-\(backend.rawValue)-\($0.rawValue)" }
    } + ["ipset", "ipset-version", "nft-tables", "nft-version", "nft-check", "links", "sysctls", "service-ports", "snapshot"]

    static func saveProgram(_ backend: IPTablesChains.Backend, _ family: IPTablesChains.Family) -> String {
        "\(family == .ipv4 ? "iptables" : "ip6tables")-\(backend.rawValue)-save"
    }

    public static var text: String {
        let iptables = IPTablesChains.Backend.allCases.flatMap { backend in
            IPTablesChains.Family.allCases.map { family in
                "chains iptables-\(backend.rawValue)-\(family.rawValue) \(saveProgram(backend, family))"
            }
        }.joined(separator: "\n")
        let sysctls = Sysctls.kubeProxyKeys.map { "\($0):/proc/sys/\($0.replacingOccurrences(of: ".", with: "/"))" }
            .joined(separator: " ")
        let links = KubeProxyFootprint.ipvs.links.joined(separator: " ")
        let bundleIPTables = IPTablesVariant.all.map {
            "bundle_iptables \(BundleLayout.iptables($0)) \($0.saveProgram)"
        }.joined(separator: "\n")
        let nftTables = KubeProxyFootprint.nftables.nftTables.map { "\($0.family):\($0.name)" }.joined(separator: " ")
        // sysctl.json as the local snapshot's JSONEncoder writes it: pretty, keys sorted, null when absent.
        let sysctlPairs = Sysctls.kubeProxyKeys.sorted().map { "\($0):/proc/sys/\($0.replacingOccurrences(of: ".", with: "/"))" }
            .joined(separator: " ")
        let moduleWords = modules.joined(separator: " ")
        let modulePattern = modules.map { "-e '/\($0)\\.ko'" }.joined(separator: " ")
        return #"""
        nonce=$1
        tmp=${TMPDIR:-/tmp}/kpswitch-agent.$$
        umask 077
        sections=0
        total=0
        trap 'rm -f "$tmp.out" "$tmp.err" "$tmp.snaperr" "$tmp.rules"' EXIT
        if ! : > "$tmp.out"; then echo "kpswitch-agent error cannot write $tmp.out" >&2; exit 1; fi
        \#(NodeAgentProgram.framing)
        run() {
          name=$1; shift
          if ! have "$1"; then skip "$name" "$1 is not installed in the agent's image"; return; fi
          "$@" > "$tmp.out" 2> "$tmp.err"
          finish $? "$name"
        }
        file() {
          if [ ! -e "$2" ]; then skip "$1" "$2 does not exist"; return; fi
          cat "$2" > "$tmp.out" 2> "$tmp.err"
          finish $? "$1"
        }
        # grep exits 1 when nothing matches, which is an empty answer, not a failure.
        matching() {
          if [ ! -e "$2" ]; then skip "$1" "$2 does not exist"; return; fi
          name=$1; path=$2; shift 2
          grep "$@" "$path" > "$tmp.out" 2> "$tmp.err"
          rc=$?
          [ $rc -eq 1 ] && rc=0
          finish $rc "$name"
        }
        chains() {
          if ! have "$2"; then skip "$1" "$2 is not installed in the agent's image"; return; fi
          "$2" > "$tmp.err" 2>&1
          rc=$?
          if [ $rc -ne 0 ]; then emit "$1" failed $rc "$tmp.err"; return; fi
          grep -e '^\*' -e '^:' -e '^COMMIT$' "$tmp.err" > "$tmp.out"
          emit "$1" ok 0 "$tmp.out"
        }
        release=$(cat /proc/sys/kernel/osrelease 2> /dev/null)
        printf 'kpswitch-agent begin \#(version) %s\n' "$nonce"
        file hostname /proc/sys/kernel/hostname
        file osrelease /proc/sys/kernel/osrelease
        file proc-modules /proc/modules
        matching modules-builtin "/lib/modules/$release/modules.builtin" \#(modulePattern)
        : > "$tmp.out"
        for path in /sys/module/ip_vs* /sys/module/nf_conntrack* /sys/module/nf_tables; do
          [ -e "$path" ] && printf '%s\n' "${path##*/}" >> "$tmp.out"
        done
        emit sys-module ok 0 "$tmp.out"
        if have modprobe; then
          : > "$tmp.out"
          for module in \#(moduleWords); do
            modprobe -n -q "$module" 2> /dev/null && printf '%s\n' "$module" >> "$tmp.out"
          done
          emit modprobe ok 0 "$tmp.out"
        else
          skip modprobe "modprobe is not installed in the agent's image"
        fi
        if [ -e /proc/net/ip_vs ]; then file ip_vs /proc/net/ip_vs; else skip ip_vs "ip_vs is not loaded: /proc/net/ip_vs does not exist"; fi
        \#(iptables)
        run ipset ipset list -n
        run ipset-version ipset version
        run nft-tables nft list tables
        run nft-version nft --version
        run nft-check nft --check add table inet kpswitch_probe
        : > "$tmp.out"
        for link in \#(links); do
          [ -e "/sys/class/net/$link" ] && printf '%s\n' "$link" >> "$tmp.out"
        done
        emit links ok 0 "$tmp.out"
        : > "$tmp.out"
        for pair in \#(sysctls); do
          key=${pair%%:*}
          path=${pair#*:}
          [ -r "$path" ] && printf '%s=%s\n' "$key" "$(cat "$path")" >> "$tmp.out"
        done
        emit sysctls ok 0 "$tmp.out"
        \#(servicePorts)
        \#(snapshotFunctions(iptables: bundleIPTables, nftTables: nftTables, sysctls: sysctlPairs))
        if [ -z "$2" ]; then
          skip snapshot "no snapshot was asked for"
        elif bundle "\#(snapshotRoot)/$2" > "$tmp.out" 2> "$tmp.err"; then
          emit snapshot ok 0 "$tmp.out"
        else
          rc=$?
          # A bundle missing a file would pass for a complete record later: none is left.
          rm -f "\#(snapshotRoot)/$2"/*
          emit snapshot failed $rc "$tmp.err"
        fi
        printf 'kpswitch-agent end %s %s %s\n' "$nonce" "$sections" "$total"

        """#
    }

    /// The `service-ports` section: per iptables backend and family `iptables-BACKEND-FAMILY CLUSTER NOENDPOINTS`
    /// (KUBE-SERVICES rules commented `"ns/name:port cluster IP"` in nat, and filter's REJECT or DROP for a
    /// port without endpoints, `has no endpoints` / `has no local endpoints`: k/k pkg/proxy/iptables/proxier.go),
    /// and per nft family holding table kube-proxy `nft-FAMILY SERVICECHAINS NOENDPOINTS` (`service-*` chains,
    /// and `no-endpoint-services` elements going to reject-chain: pkg/proxy/nftables/proxier.go gives a port
    /// without endpoints no chain). Counted on the node, so that the log does not carry the rules. A tool
    /// the image lacks, or a save that fails, leaves its line out. The whole save is read, never `-t TABLE`:
    /// naming a table makes the legacy backend create it.
    static var servicePorts: String {
        let programs = IPTablesChains.Backend.allCases.flatMap { backend in
            IPTablesChains.Family.allCases.map { "iptables-\(backend.rawValue)-\($0.rawValue):\(saveProgram(backend, $0))" }
        }.joined(separator: " ")
        return #"""
        : > "$tmp.out"
        for pair in \#(programs); do
          key=${pair%%:*}; program=${pair#*:}
          have "$program" || continue
          "$program" > "$tmp.rules" 2> /dev/null || continue
          cluster=$(grep -c '^-A KUBE-SERVICES .*cluster IP"' "$tmp.rules")
          rejected=$(grep -c -e '^-A KUBE-SERVICES .*has no endpoints"' -e '^-A KUBE-SERVICES .*has no local endpoints"' "$tmp.rules")
          printf '%s %s %s\n' "$key" "$cluster" "$rejected" >> "$tmp.out"
        done
        if have nft; then
          for family in ip ip6; do
            nft list table "$family" kube-proxy > "$tmp.rules" 2> /dev/null || continue
            printf 'nft-%s %s %s\n' "$family" "$(grep -c 'chain service-' "$tmp.rules")" $(( $(grep -o 'goto reject-chain' "$tmp.rules" | wc -l) )) >> "$tmp.out"
          done
        fi
        emit service-ports ok 0 "$tmp.out"
        """#
    }

    /// `bundle DIR`: the node bundle's files (BundleLayout names) into DIR, mode 0700 and files 0600, printing
    /// `file NAME BYTES LINES`, `rules NAME COUNT` (iptables `-A` lines), `ipvs SERVICES DESTINATIONS` and
    /// `skipped NAME REASON` lines; it fails on the first capture that fails, naming it on stderr.
    static func snapshotFunctions(iptables: String, nftTables: String, sysctls: String) -> String {
        #"""
        record() {
          printf 'file %s %s %s\n' "$1" $(( $(wc -c < "$dir/$1") )) $(( $(wc -l < "$dir/$1") ))
        }
        bundle_iptables() {
          if ! have "$2"; then printf 'skipped %s %s is not installed in the agent'"'"'s image\n' "$1" "$2"; return 0; fi
          if ! "$2" > "$dir/$1" 2> "$tmp.snaperr"; then
            printf 'capturing %s: %s failed: %s\n' "$1" "$2" "$(cat "$tmp.snaperr")" >&2; return 1
          fi
          if [ ! -s "$dir/$1" ]; then
            rm -f "$dir/$1"
            printf 'skipped %s %s printed no tables on this node\n' "$1" "$2"
            return 0
          fi
          record "$1"
          printf 'rules %s %s\n' "$1" $(( $(grep -c '^-A ' "$dir/$1") ))
        }
        bundle() {
          dir=$1
          # The pod mounts the directory from the host (DirectoryOrCreate makes it 0755); the image has chmod.
          if [ ! -d "$dir" ]; then echo "$dir is not mounted into the agent pod" >&2; return 1; fi
          chmod 0700 "$dir" || return 1
          \#(iptables)
          if have nft; then
            : > "$dir/\#(BundleLayout.nftables)"
            for table in \#(nftTables); do
              family=${table%%:*}; name=${table#*:}
              if nft list tables 2> /dev/null | grep -qx "table $family $name"; then
                if ! nft list table "$family" "$name" >> "$dir/\#(BundleLayout.nftables)" 2> "$tmp.snaperr"; then
                  printf 'capturing \#(BundleLayout.nftables): nft list table %s %s failed: %s\n' "$family" "$name" "$(cat "$tmp.snaperr")" >&2; return 1
                fi
              fi
            done
            record \#(BundleLayout.nftables)
          else
            printf 'skipped \#(BundleLayout.nftables) nft is not installed in the agent'"'"'s image\n'
          fi
          if have ipset; then
            if ! ipset save > "$dir/\#(BundleLayout.ipsets)" 2> "$tmp.snaperr"; then
              printf 'capturing \#(BundleLayout.ipsets): ipset save failed: %s\n' "$(cat "$tmp.snaperr")" >&2; return 1
            fi
            record \#(BundleLayout.ipsets)
          else
            printf 'skipped \#(BundleLayout.ipsets) ipset is not installed in the agent'"'"'s image\n'
          fi
          {
            printf '{\n'
            first=1
            for pair in \#(sysctls); do
              key=${pair%%:*}; path=${pair#*:}
              [ $first -eq 1 ] || printf ',\n'
              first=0
              if [ -r "$path" ]; then printf '  "%s" : "%s"' "$key" "$(cat "$path")"; else printf '  "%s" : null' "$key"; fi
            done
            printf '\n}\n'
          } > "$dir/\#(BundleLayout.sysctls)"
          record \#(BundleLayout.sysctls)
          if [ -e /sys/class/net/kube-ipvs0 ]; then
            printf 'skipped \#(BundleLayout.kubeIPVS0) kube-proxy'"'"'s image has no ip to read kube-ipvs0'"'"'s addresses\n'
          else
            printf 'skipped \#(BundleLayout.kubeIPVS0) no kube-ipvs0 link on this node\n'
          fi
          if [ -e /proc/net/ip_vs ]; then
            cat /proc/net/ip_vs > "$dir/\#(BundleLayout.ipvsProc)" || return 1
            record \#(BundleLayout.ipvsProc)
            printf 'ipvs %s %s\n' $(( $(grep -c -e '^TCP' -e '^UDP' -e '^SCTP' -e '^FWM' "$dir/\#(BundleLayout.ipvsProc)") )) \
              $(( $(grep -c '^  -> [0-9A-F[]' "$dir/\#(BundleLayout.ipvsProc)") ))
            reason="the agent reads IPVS from /proc/net/ip_vs (\#(BundleLayout.ipvsProc)); the image has no ipvsadm or netlink reader"
          else
            reason="ip_vs is not loaded: /proc/net/ip_vs does not exist"
          fi
          printf 'skipped \#(BundleLayout.ipvsJSON) %s\n' "$reason"
          printf 'skipped \#(BundleLayout.ipvsadm) %s\n' "$reason"
        }
        """#
    }
}
