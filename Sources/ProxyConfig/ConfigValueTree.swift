import Yams

/// A YAML document reduced to what kube-proxy can see: resolved scalar values, mappings, sequences.
/// Comments, quoting, order and layout are gone, so equal trees mean equal configurations.
indirect enum ConfigValueTree: Equatable {
    case scalar(tag: String, value: String)
    case mapping([String: ConfigValueTree])
    case sequence([ConfigValueTree])

    init(_ node: Node) {
        switch node {
        case .scalar:
            self = .scalar(tag: node.tag.description, value: Self.canonical(node))
        case .mapping(let mapping):
            var pairs: [String: ConfigValueTree] = [:]
            for (key, value) in mapping { pairs[Self.keyName(key)] = ConfigValueTree(value) }
            self = .mapping(pairs)
        case .sequence(let sequence):
            self = .sequence(sequence.map(ConfigValueTree.init))
        case .alias(let alias):
            self = .scalar(tag: "alias", value: alias.anchor.rawValue)
        }
    }

    init(_ value: ConfigEdit.Value) {
        switch value {
        case .string(let text): self = .scalar(tag: Tag.Name.str.rawValue, value: text)
        case .bool(let flag): self = .scalar(tag: Tag.Name.bool.rawValue, value: flag ? "true" : "false")
        }
    }

    /// A mapping key as a string; a plain string key keeps its text so that paths read naturally.
    static func keyName(_ key: Node) -> String {
        if case .scalar = key, key.isTagged(.str), let text = key.string { return text }
        return "\(ConfigValueTree(key))"
    }

    private static func canonical(_ node: Node) -> String {
        if node.isTagged(.bool) { return node.bool.map { $0 ? "true" : "false" } ?? (node.string ?? "") }
        if node.isTagged(.int) { return node.int.map(String.init) ?? (node.string ?? "") }
        if node.isTagged(.float) { return node.float.map { "\($0)" } ?? (node.string ?? "") }
        if node.isTagged(.null) { return "null" }
        return node.string ?? ""
    }

    /// This tree with `value` at `path`, creating mappings (and replacing null or scalars) on the way.
    func setting(_ path: ArraySlice<String>, to value: ConfigValueTree) -> ConfigValueTree {
        guard let key = path.first else { return value }
        var pairs: [String: ConfigValueTree] = [:]
        if case .mapping(let existing) = self { pairs = existing }
        let child = pairs[key] ?? .mapping([:])
        pairs[key] = child.setting(path.dropFirst(), to: value)
        return .mapping(pairs)
    }

    /// Dotted key paths where two trees differ, for telling the operator what a rejected rewrite touched.
    func differences(from other: ConfigValueTree, at prefix: String = "") -> [String] {
        guard case .mapping(let mine) = self, case .mapping(let theirs) = other else {
            return self == other ? [] : [prefix.isEmpty ? "(document)" : prefix]
        }
        var keys = Array(Set(mine.keys).union(theirs.keys))
        keys.sort()
        return keys.flatMap { key -> [String] in
            let path = prefix.isEmpty ? key : "\(prefix).\(key)"
            guard let left = mine[key], let right = theirs[key] else { return [path] }
            return left.differences(from: right, at: path)
        }
    }
}

extension Node {
    /// Whether the resolved tag is `name` (Yams keeps `Tag.name` internal; its description is the name).
    func isTagged(_ name: Tag.Name) -> Bool { tag.description == name.rawValue }
}
