/// One script an agent pod runs, with what its log must hold: the version its begin line names and the
/// sections a complete log has. The facts script reads; the cleanup script changes the node.
public struct NodeAgentProgram: Sendable {
    let script: String
    /// After the nonce: `sh -c SCRIPT kpswitch-agent NONCE ARGUMENTS...`.
    let arguments: [String]
    let version: String
    let sections: [String]
    /// The node bundle the facts script writes, whose directory the pod mounts.
    let snapshot: String?

    public static func facts(snapshot: String?) -> NodeAgentProgram {
        NodeAgentProgram(
            script: NodeAgentScript.text, arguments: snapshot.map { [$0] } ?? [], version: "\(NodeAgentScript.version)",
            sections: NodeAgentScript.sections, snapshot: snapshot)
    }

    /// The shell functions both scripts frame their sections with (see `NodeAgentLog`): `emit NAME STATUS RC
    /// FILE` prints a header with the content's line and byte counts, the content and a newline; `skip NAME
    /// REASON` a skipped section; `finish RC NAME` the output or the error of what ran; `have TOOL`.
    static let framing = #"""
        emit() {
          lines=$(( $(wc -l < "$4") ))
          bytes=$(( $(wc -c < "$4") ))
          printf 'kpswitch-agent section %s %s %s %s %s\n' "$1" "$2" "$3" "$lines" "$bytes"
          cat "$4"
          printf '\n'
          sections=$((sections + 1))
          total=$((total + bytes))
        }
        skip() {
          printf '%s\n' "$2" > "$tmp.out"
          emit "$1" skipped 0 "$tmp.out"
        }
        finish() {
          if [ "$1" -eq 0 ]; then emit "$2" ok 0 "$tmp.out"; else emit "$2" failed "$1" "$tmp.err"; fi
        }
        have() { command -v "$1" > /dev/null 2>&1; }
        """#
}
