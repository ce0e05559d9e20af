import Snapshot

/// What an agent reported of the bundle it wrote on its node: each file's size and lines, the iptables
/// rules per file and the IPVS virtual and real servers — counts only, the rule text stays on the node.
public struct NodeBundleReport: Codable, Equatable, Sendable {
    public struct File: Codable, Equatable, Sendable {
        public let name: String
        public let size: Int
        public let lines: Int
        /// iptables files: the `-A` lines (rules); nil for other files.
        public var rules: Int?

        private enum CodingKeys: String, CodingKey { case name, size, lines, rules }
    }

    /// The bundle's directory on the node.
    public let directory: String
    public let files: [File]
    public let skipped: [BundleManifest.Skipped]
    /// Virtual servers in `/proc/net/ip_vs`; nil when ip_vs is not loaded.
    public let ipvsServices: Int?
    /// Real servers of those virtual servers.
    public let ipvsDestinations: Int?

    private enum CodingKeys: String, CodingKey { case directory, files, skipped, ipvsServices, ipvsDestinations }

    /// The `snapshot` section's lines (`NodeAgentScript.snapshotFunctions`).
    init(parsing text: String, directory: String) throws(NodeAgentLogError) {
        var files: [File] = []
        var skipped: [BundleManifest.Skipped] = []
        var services: Int?
        var destinations: Int?
        for line in text.split(separator: "\n") {
            let words = line.split(separator: " ", maxSplits: 2).map(String.init)
            switch (words.first, words.count) {
            case ("file", 3):
                let counts = words[2].split(separator: " ")
                guard counts.count == 2, let size = Int(counts[0]), let lines = Int(counts[1]) else { throw Self.garbled(line) }
                files.append(File(name: words[1], size: size, lines: lines))
            case ("rules", 3):
                guard let count = Int(words[2]), let index = files.lastIndex(where: { $0.name == words[1] }) else { throw Self.garbled(line) }
                files[index].rules = count
            case ("ipvs", 3):
                guard let s = Int(words[1]), let d = Int(words[2]) else { throw Self.garbled(line) }
                services = s
                destinations = d
            case ("skipped", 3):
                skipped.append(BundleManifest.Skipped(name: words[1], reason: words[2]))
            default:
                throw Self.garbled(line)
            }
        }
        self.directory = directory
        self.files = files
        self.skipped = skipped
        ipvsServices = services
        ipvsDestinations = destinations
    }

    static func garbled(_ line: Substring) -> NodeAgentLogError {
        .garbled("section snapshot holds '\(line.prefix(120))', which is no bundle report line")
    }
}
