import NodeState

/// The POSIX sh program an agent pod runs to remove one mode's leftovers from its node: the same removal
/// `LeftoverRemoval` plans locally, generated from the same `KubeProxyFootprint`. The chain, set and table
/// names become `case` patterns; per iptables store the script reads `<variant>-save` with `while read` and
/// writes the `iptables-restore --noflush` input `IPTablesCleanup.restoreScript` would (jumps from chains
/// the footprint does not own into those it owns deleted, then its chains flushed, then deleted), applies
/// it, then destroys the footprint's ipsets, deletes its nft tables, and last its links.
///
/// IPVS: kube-proxy's virtual servers are those `KubeProxyIPVSServices(linkAddresses:)` owns (an address
/// on kube-ipvs0, or a NodePort on another of the node's addresses), judged from `ip -o addr show` and
/// `ipvsadm -S -n`. kube-proxy's image has neither tool, so a node holding kube-ipvs0 without them is
/// refused whole: nothing is changed there, nothing flushed, and `kube-proxy --cleanup` (which would also
/// flush foreign virtual servers and the running mode's state) is never run.
///
/// `$1` is the run's nonce, `$2` is `apply` or `dry-run`. Every section prints, skipped when it does not
/// apply, so that a log missing one is known to be cut.
enum NodeAgentCleanupScript {
    static let version = "cleanup-1"

    static let sections = ["hostname", "refused", "ipvs"]
        + IPTablesVariant.all.map { "iptables-\($0.backend.rawValue)-\($0.family.rawValue)" }
        + ["ipsets", "nft-tables", "links"]

    static func program(_ footprint: KubeProxyFootprint, dryRun: Bool) -> NodeAgentProgram {
        NodeAgentProgram(
            script: text(footprint), arguments: [dryRun ? "dry-run" : "apply"], version: version, sections: sections, snapshot: nil)
    }

    static func section(_ variant: IPTablesVariant) -> String {
        "iptables-\(variant.backend.rawValue)-\(variant.family.rawValue)"
    }

    /// `owns TABLE CHAIN`: whether the footprint owns the chain, as `KubeProxyFootprint.owns` decides.
    static func ownsFunction(_ footprint: KubeProxyFootprint) -> String {
        let tables = Set(footprint.chains.keys).union(footprint.chainPrefixes.keys).sorted()
        var text = "owns() {\n  case $1 in\n"
        for table in tables {
            text += "  \(table))\n    case $2 in\n"
            if let kept = footprint.keptChains[table], !kept.isEmpty {
                text += "    \(kept.sorted().joined(separator: "|"))) return 1 ;;\n"
            }
            let patterns = (footprint.chains[table] ?? []).sorted() + (footprint.chainPrefixes[table] ?? []).map { $0 + "*" }
            if !patterns.isEmpty { text += "    \(patterns.joined(separator: "|"))) return 0 ;;\n" }
            text += "    esac ;;\n"
        }
        return text + "  esac\n  return 1\n}"
    }

    static func text(_ footprint: KubeProxyFootprint) -> String {
        let wantsChains = !footprint.chains.isEmpty || !footprint.chainPrefixes.isEmpty
        let iptables = IPTablesVariant.all.map { variant in
            wantsChains
                ? "chains \(section(variant)) \(variant.saveProgram) \(variant.restoreProgram)"
                : "skip \(section(variant)) 'kube-proxy in this mode has no iptables chains'"
        }.joined(separator: "\n")
        let ipsetPattern = footprint.ipsets.sorted().joined(separator: "|")
        let nftTables = footprint.nftTables.map { "\($0.family):\($0.name)" }.joined(separator: " ")
        let links = footprint.links.joined(separator: " ")
        let ipvs = footprint.links.contains("kube-ipvs0")
        return #"""
            nonce=$1
            mode=$2
            tmp=${TMPDIR:-/tmp}/kpswitch-cleanup.$$
            umask 077
            sections=0
            total=0
            stop=
            trap 'rm -f "$tmp.out" "$tmp.err" "$tmp.save" "$tmp.D" "$tmp.F" "$tmp.X" "$tmp.addr" "$tmp.vip" "$tmp.own" "$tmp.svc" "$tmp.del"' EXIT
            if ! : > "$tmp.out"; then echo "kpswitch-agent error cannot write $tmp.out" >&2; exit 1; fi
            \#(NodeAgentProgram.framing)
            # After a step fails the later ones are not attempted: the node is left for the operator to look at.
            failed() {
              stop="$1 failed"
              emit "$1" failed "$2" "$tmp.err"
            }
            \#(ownsFunction(footprint))
            # chains SECTION SAVE RESTORE: the restore input that removes the footprint from one store, applied.
            chains() {
              if [ -n "$stop" ]; then skip "$1" "not attempted: $stop"; return; fi
              if ! have "$2"; then skip "$1" "$2 is not installed in the agent's image"; return; fi
              # `cmd || failed $?`, never `if ! cmd; then failed $?`: after `!` the status is 0.
              "$2" > "$tmp.save" 2> "$tmp.err" || { failed "$1" $?; return; }
              : > "$tmp.out"
              table=
              set -f
              while IFS= read -r line; do
                case $line in
                '*'*)
                  table=${line#?}
                  : > "$tmp.D"; : > "$tmp.F"; : > "$tmp.X" ;;
                :*)
                  chain=${line#:}; chain=${chain%% *}
                  if owns "$table" "$chain"; then
                    printf -- '-F %s\n' "$chain" >> "$tmp.F"
                    printf -- '-X %s\n' "$chain" >> "$tmp.X"
                  fi ;;
                '-A '*)
                  body=${line#-A }; chain=${body%% *}; spec=${body#* }
                  owns "$table" "$chain" && continue
                  # The target is the word after the last -j/-g, as IPTablesRuleset.Rule.target reads it.
                  target=; previous=
                  for word in $spec; do
                    case $previous in -j|--jump|-g|--goto) target=$word ;; esac
                    previous=$word
                  done
                  if [ -n "$target" ] && owns "$table" "$target"; then printf -- '-D %s %s\n' "$chain" "$spec" >> "$tmp.D"; fi ;;
                COMMIT)
                  if [ -s "$tmp.F" ]; then
                    { printf '*%s\n' "$table"; cat "$tmp.D" "$tmp.F" "$tmp.X"; printf 'COMMIT\n'; } >> "$tmp.out"
                  fi ;;
                esac
              done < "$tmp.save"
              set +f
              if [ "$mode" = apply ] && [ -s "$tmp.out" ]; then
                "$3" --noflush < "$tmp.out" 2> "$tmp.err" || { failed "$1" $?; return; }
              fi
              emit "$1" ok 0 "$tmp.out"
            }
            # The virtual servers kube-proxy made, as KubeProxyIPVSServices(linkAddresses:) decides: keyed lines
            # '@ADDRESS|' let grep -F match whole addresses only.
            ipvs() {
              : > "$tmp.vip"; : > "$tmp.own"; : > "$tmp.svc"; : > "$tmp.out"; : > "$tmp.del"
              ip -o addr show > "$tmp.addr" 2> "$tmp.err" || { failed ipvs $?; return; }
              while read -r _ link family address _; do
                case $family in inet|inet6) ;; *) continue ;; esac
                link=${link%%@*}; address=${address%%/*}
                if [ "$link" = kube-ipvs0 ]; then printf '@%s|\n' "$address" >> "$tmp.vip"; else printf '@%s|\n' "$address" >> "$tmp.own"; fi
              done < "$tmp.addr"
              ipvsadm -S -n > "$tmp.save" 2> "$tmp.err" || { failed ipvs $?; return; }
              while read -r command flag service rest; do
                [ "$command" = -A ] || continue
                case $flag in
                -t) protocol=TCP ;;
                -u) protocol=UDP ;;
                --sctp-service) protocol=SCTP ;;
                -f)
                  case " $rest " in *" -6 "*) printf 'kept FWM %s IPv6\n' "$service" ;; *) printf 'kept FWM %s\n' "$service" ;; esac >> "$tmp.out"
                  continue ;;
                *) continue ;;
                esac
                address=${service%:*}; address=${address#[}; address=${address%]}
                printf '@%s|%s %s|%s\n' "$address" "$protocol" "$service" "${service##*:}" >> "$tmp.svc"
              done < "$tmp.save"
              # One grep per list, not per virtual server: kube-ipvs0 holds an address per ClusterIP.
              if [ -s "$tmp.vip" ]; then
                grep -F -f "$tmp.vip" "$tmp.svc" > "$tmp.D"
                grep -v -F -f "$tmp.vip" "$tmp.svc" > "$tmp.F"
              else
                : > "$tmp.D"
                cat "$tmp.svc" > "$tmp.F"
              fi
              # On another of the node's addresses: kube-proxy's when the port is a NodePort.
              : > "$tmp.X"
              if [ -s "$tmp.own" ]; then
                grep -F -f "$tmp.own" "$tmp.F" | while IFS='|' read -r address name port; do
                  if [ "$port" -ge 30000 ] && [ "$port" -le 32767 ]; then printf '%s|%s|%s\n' "$address" "$name" "$port"; fi
                done > "$tmp.X"
              fi
              if [ -s "$tmp.X" ]; then
                cat "$tmp.X" >> "$tmp.D"
                grep -v -x -F -f "$tmp.X" "$tmp.F" > "$tmp.save"
              else
                cat "$tmp.F" > "$tmp.save"
              fi
              while IFS='|' read -r address name port; do printf 'kept %s\n' "$name" >> "$tmp.out"; done < "$tmp.save"
              while IFS='|' read -r address name port; do
                printf 'deleted %s\n' "$name" >> "$tmp.out"
                case $name in TCP*) flag=-t ;; UDP*) flag=-u ;; *) flag=--sctp-service ;; esac
                printf -- '-D %s %s\n' "$flag" "${name#* }" >> "$tmp.del"
              done < "$tmp.D"
              if [ "$mode" = apply ] && [ -s "$tmp.del" ]; then
                ipvsadm -R < "$tmp.del" 2> "$tmp.err" || { failed ipvs $?; return; }
              fi
              emit ipvs ok 0 "$tmp.out"
            }
            printf 'kpswitch-agent begin \#(version) %s\n' "$nonce"
            cat /proc/sys/kernel/hostname > "$tmp.out" 2> "$tmp.err"
            finish $? hostname
            refusal=
            if \#(ipvs ? "true" : "false") && [ -e /sys/class/net/kube-ipvs0 ]; then
              missing=
              have ip || missing=ip
              if [ -e /proc/net/ip_vs ] && ! have ipvsadm; then missing="${missing:+$missing and }ipvsadm"; fi
              [ -n "$missing" ] && refusal="kube-ipvs0 is on this node and the agent's image has no $missing to remove it and kube-proxy's IPVS virtual servers"
            fi
            if [ -n "$refusal" ]; then
              stop="the node was refused"
              printf '%s\n' "$refusal" > "$tmp.out"
              emit refused ok 0 "$tmp.out"
            else
              skip refused "nothing on this node needs a tool the agent's image lacks"
            fi
            if [ -n "$stop" ]; then
              skip ipvs "not attempted: $stop"
            elif ! \#(ipvs ? "true" : "false"); then
              skip ipvs "kube-proxy in this mode makes no IPVS virtual servers"
            elif [ ! -e /proc/net/ip_vs ]; then
              skip ipvs "ip_vs is not loaded: /proc/net/ip_vs does not exist, so there are no virtual servers"
            elif [ ! -e /sys/class/net/kube-ipvs0 ]; then
              skip ipvs "no kube-ipvs0 link on this node, so no virtual server is kube-proxy's"
            else
              ipvs
            fi
            \#(iptables)
            if [ -n "$stop" ]; then
              skip ipsets "not attempted: $stop"
            elif [ -z '\#(ipsetPattern)' ]; then
              skip ipsets "kube-proxy in this mode makes no ipsets"
            elif ! have ipset; then
              skip ipsets "ipset is not installed in the agent's image"
            elif ipset list -n > "$tmp.save" 2> "$tmp.err"; rc=$?; [ $rc -ne 0 ]; then
              failed ipsets $rc
            else
              : > "$tmp.out"
              while read -r name; do
                case $name in \#(ipsetPattern.isEmpty ? "''" : ipsetPattern)) printf '%s\n' "$name" >> "$tmp.out" ;; esac
              done < "$tmp.save"
              rc=0
              if [ "$mode" = apply ]; then
                while read -r name; do
                  ipset destroy "$name" 2> "$tmp.err" || { rc=$?; break; }
                done < "$tmp.out"
              fi
              if [ $rc -eq 0 ]; then emit ipsets ok 0 "$tmp.out"; else failed ipsets $rc; fi
            fi
            if [ -n "$stop" ]; then
              skip nft-tables "not attempted: $stop"
            elif [ -z '\#(nftTables)' ]; then
              skip nft-tables "kube-proxy in this mode makes no nftables tables"
            elif ! have nft; then
              skip nft-tables "nft is not installed in the agent's image"
            elif nft list sets > "$tmp.save" 2> "$tmp.err"; rc=$?; [ $rc -ne 0 ]; then
              # `list sets` prints every table's header and no rules: fast on a large iptables-nft ruleset.
              failed nft-tables $rc
            else
              : > "$tmp.out"
              rc=0
              for table in \#(nftTables); do
                family=${table%%:*}; name=${table#*:}
                grep -q -x -F "table $family $name {" "$tmp.save" || continue
                if [ "$mode" = apply ]; then nft delete table "$family" "$name" 2> "$tmp.err" || { rc=$?; break; }; fi
                printf '%s %s\n' "$family" "$name" >> "$tmp.out"
              done
              if [ $rc -eq 0 ]; then emit nft-tables ok 0 "$tmp.out"; else failed nft-tables $rc; fi
            fi
            if [ -n "$stop" ]; then
              skip links "not attempted: $stop"
            elif [ -z '\#(links)' ]; then
              skip links "kube-proxy in this mode adds no links"
            else
              : > "$tmp.out"
              rc=0
              for link in \#(links); do
                [ -e "/sys/class/net/$link" ] || continue
                if [ "$mode" = apply ]; then ip link delete "$link" 2> "$tmp.err" || { rc=$?; break; }; fi
                printf '%s\n' "$link" >> "$tmp.out"
              done
              if [ $rc -eq 0 ]; then emit links ok 0 "$tmp.out"; else failed links $rc; fi
            fi
            printf 'kpswitch-agent end %s %s %s\n' "$nonce" "$sections" "$total"

            """#
    }
}
