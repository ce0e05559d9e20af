import Foundation

/// An agent pod's log, checked against its framing before any of it is believed: the begin line with
/// the run's nonce, every section with the line and byte counts of what follows it, and the end line
/// with the nonce, the number of sections and their total bytes. A log cut short, garbled, or from
/// another run is refused with `NodeAgentLogError`, never read as a shorter truth.
public struct NodeAgentLog: Sendable {
    public enum Status: String, Sendable {
        /// The content is the command's output.
        case ok
        /// The content is the reason the agent could not look (a tool or file the node lacks).
        case skipped
        /// The content is the command's error output; `exitCode` is its status.
        case failed
    }

    public struct Section: Sendable, Equatable {
        public let name: String
        public let status: Status
        public let exitCode: Int32
        public let text: String
    }

    public let sections: [String: Section]

    static let marker = "kpswitch-agent"

    public init(parsing log: String, nonce: String, program: NodeAgentProgram = .facts(snapshot: nil)) throws(NodeAgentLogError) {
        let bytes = Array(log.utf8)
        var reader = Reader(bytes: bytes)
        guard let begin = reader.line() else { throw .truncated("the log is empty; the agent printed nothing") }
        let expectedBegin = "\(Self.marker) begin \(program.version) "
        guard begin.hasPrefix(expectedBegin) else {
            throw .garbled("the log does not start with the agent's begin line: '\(begin.prefix(120))'")
        }
        guard begin.dropFirst(expectedBegin.count) == nonce else {
            throw .otherRun("the log belongs to another run (nonce '\(begin.dropFirst(expectedBegin.count))', expected '\(nonce)')")
        }
        var sections: [String: Section] = [:]
        var order: [String] = []
        var total = 0
        while true {
            guard let header = reader.line() else {
                throw .truncated("the log ends after \(order.count) sections without the agent's end line")
            }
            let words = header.split(separator: " ", omittingEmptySubsequences: false).map(String.init)
            if words.count == 5, words[0] == Self.marker, words[1] == "end" {
                guard words[2] == nonce else { throw .otherRun("the end line carries nonce '\(words[2])', expected '\(nonce)'") }
                guard Int(words[3]) == order.count, Int(words[4]) == total else {
                    throw .garbled("the end line counts \(words[3]) sections of \(words[4]) bytes; the log holds \(order.count) of \(total)")
                }
                guard reader.atEnd else { throw .garbled("the log goes on after the agent's end line") }
                break
            }
            guard words.count == 7, words[0] == Self.marker, words[1] == "section",
                  let status = Status(rawValue: words[3]), let exitCode = Int32(words[4]),
                  let lines = Int(words[5]), let size = Int(words[6]), size >= 0 else {
                throw .garbled("expected a section header after section \(order.count), found '\(header.prefix(120))'")
            }
            let name = words[2]
            guard sections[name] == nil else { throw .garbled("section \(name) appears twice") }
            guard let content = reader.take(size) else {
                throw .truncated("section \(name) announces \(size) bytes; the log ends before them")
            }
            guard reader.take(1) == [UInt8(ascii: "\n")] else {
                throw .garbled("section \(name) does not end after its \(size) bytes")
            }
            let newlines = content.count { $0 == UInt8(ascii: "\n") }
            guard newlines == lines else {
                throw .garbled("section \(name) announces \(lines) lines and holds \(newlines)")
            }
            sections[name] = Section(name: name, status: status, exitCode: exitCode, text: String(decoding: content, as: UTF8.self))
            order.append(name)
            total += size
        }
        let missing = program.sections.filter { sections[$0] == nil }
        guard missing.isEmpty else {
            throw .garbled("the log lacks the sections \(missing.joined(separator: ", ")), which agent version \(program.version) prints")
        }
        self.sections = sections
    }

    /// The section's text when it is `ok`; nil when skipped; throws the node's error output when it failed.
    func output(_ name: String) throws(NodeAgentLogError) -> String? {
        guard let section = sections[name] else { throw .garbled("the log has no section \(name)") }
        switch section.status {
        case .ok: return section.text
        case .skipped: return nil
        case .failed: throw .failed(section: name, exitCode: section.exitCode, output: section.text)
        }
    }

    /// Why a skipped section was skipped, as the agent put it.
    func reason(_ name: String) -> String? {
        guard let section = sections[name], section.status == .skipped else { return nil }
        return section.text.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    private struct Reader {
        let bytes: [UInt8]
        var offset = 0

        var atEnd: Bool { offset == bytes.count }

        mutating func line() -> String? {
            guard !atEnd else { return nil }
            guard let end = bytes[offset...].firstIndex(of: UInt8(ascii: "\n")) else { return nil }
            defer { offset = end + 1 }
            return String(decoding: bytes[offset..<end], as: UTF8.self)
        }

        mutating func take(_ count: Int) -> ArraySlice<UInt8>? {
            guard bytes.count - offset >= count else { return nil }
            defer { offset += count }
            return bytes[offset..<offset + count]
        }
    }
}

/// Why an agent's log was not used; the message says what was wrong and what to do.
public enum NodeAgentLogError: Error, Equatable, Sendable, CustomStringConvertible {
    case truncated(String)
    case garbled(String)
    case otherRun(String)
    /// A command the agent ran on the node failed.
    case failed(section: String, exitCode: Int32, output: String)
    /// The agent reported what the node lacks (a tool, a file), so this fact is unknown.
    case skipped(section: String, reason: String)

    public var description: String {
        switch self {
        case .truncated(let detail):
            "the agent's log is truncated: \(detail); nothing of it was used. Rerun; if it repeats, check the node's container log size limit."
        case .garbled(let detail):
            "the agent's log is garbled: \(detail); nothing of it was used. Rerun; if it repeats, report it with the pod's log."
        case .otherRun(let detail):
            "the agent's log is not this run's: \(detail); nothing of it was used. Rerun."
        case .failed(let section, let exitCode, let output):
            "on the node, \(section) failed with exit status \(exitCode): \(output.trimmingCharacters(in: .whitespacesAndNewlines))"
        case .skipped(_, let reason):
            reason
        }
    }
}
