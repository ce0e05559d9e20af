import Foundation
import Yams

/// A KubeProxyConfiguration text rewritten in place: only the scalars of the intended keys change, or
/// lines are inserted for missing keys. Comments, quoting, order, blank lines, unknown fields and line
/// endings stay byte for byte; the document is never re-serialised.
///
/// Every rewrite is proved before it is returned: old and new texts are parsed and must differ, as
/// values, exactly in the intended keys. A rewrite that cannot be proved throws and produces no text.
public struct ConfigRewrite: Sendable {
    public let original: String
    public let text: String
    /// The edits that changed something; edits whose value was already in place are left out.
    public let applied: [ConfigEdit]

    /// Whether the text differs from the original.
    public var changesText: Bool { text != original }

    /// Rewrites `text` for `target` on a cluster of `version`, adding the feature gate nftables needs there.
    public init(of text: String, to target: ProxyTarget, version: KubernetesVersion) throws(ProxyConfigError) {
        let summary = try KubeProxyConfigurationSummary(parsing: text)
        try self.init(of: text, applying: target.edits(for: version, current: summary))
    }

    /// Applies `edits` in order and proves the result.
    public init(of text: String, applying edits: [ConfigEdit]) throws(ProxyConfigError) {
        let hasMark = text.unicodeScalars.first == "\u{FEFF}"
        let body = KubeProxyConfigurationSummary.withoutByteOrderMark(text)
        let original = try ConfigDocument(body)
        var current = original
        var currentText = body
        var applied: [ConfigEdit] = []
        for edit in edits {
            guard let textEdit = try Self.textEdit(for: edit, in: current) else { continue }
            currentText = current.source.applying(textEdit)
            current = try Self.reparse(currentText, after: edit)
            applied.append(edit)
        }
        try Self.prove(original: original, rewritten: current, edits: edits)
        self.original = text
        self.text = hasMark ? "\u{FEFF}" + currentText : currentText
        self.applied = applied
    }

    private static func reparse(_ text: String, after edit: ConfigEdit) throws(ProxyConfigError) -> ConfigDocument {
        do {
            return try ConfigDocument(text)
        } catch {
            throw ProxyConfigError(
                .proofFailed, "setting \(edit.key) produced text that no longer parses (\(error.message)).",
                remediation: "Nothing was written. Edit \(edit.key) by hand, or report the configuration to kpswitch.",
                runbook: .migrate("manual-config-edit"), line: error.line)
        }
    }

    private static func prove(original: ConfigDocument, rewritten: ConfigDocument, edits: [ConfigEdit]) throws(ProxyConfigError) {
        var expected = ConfigValueTree(original.root)
        for edit in edits { expected = expected.setting(edit.path[...], to: ConfigValueTree(edit.value)) }
        let actual = ConfigValueTree(rewritten.root)
        guard actual != expected else { return }
        let keys = actual.differences(from: expected).joined(separator: ", ")
        throw ProxyConfigError(
            .proofFailed,
            "the rewrite would change more than \(edits.map(\.key).joined(separator: ", ")): it differs from the intended result at \(keys).",
            remediation: "Nothing was written. Edit the keys by hand, or report the configuration to kpswitch.",
            runbook: .migrate("manual-config-edit"))
    }

    // MARK: Locating and editing

    /// The text edit that makes `edit` true in `document`, or nil when it already holds.
    static func textEdit(for edit: ConfigEdit, in document: ConfigDocument) throws(ProxyConfigError) -> TextEdit? {
        let source = document.source
        var mapping = document.root
        var inFlow = isFlow(mapping, source)
        for (index, key) in edit.path.enumerated() {
            let rest = edit.path[index...]
            guard case .mapping(let pairs) = mapping else { return nil }
            guard let pair = pairs.first(where: { ConfigValueTree.keyName($0.key) == key }) else {
                return try insertion(of: rest, value: edit.value, into: mapping, inFlow: inFlow, source: source)
            }
            if index == edit.path.count - 1 {
                guard ConfigValueTree(pair.value) != ConfigValueTree(edit.value) else { return nil }
                return try replacement(of: pair.value, key: edit.key, with: render(edit.value, style: pair.value.scalar?.style),
                                       inFlow: inFlow, source: source)
            }
            switch pair.value {
            case .mapping:
                mapping = pair.value
                inFlow = inFlow || isFlow(pair.value, source)
            case .scalar where pair.value.isTagged(.null):
                let json = isJSONKey(pair.key, source: source)
                let nested = renderFlowEntry(Array(rest.dropFirst()), value: edit.value, json: json)
                return try replacement(of: pair.value, key: edit.path[...index].joined(separator: "."), with: "{\(nested)}",
                                       inFlow: inFlow, source: source)
            default:
                throw ProxyConfigError(
                    .unsupportedLayout, "\(edit.path[...index].joined(separator: ".")) is not a mapping, so \(edit.key) cannot be set.",
                    remediation: "Fix that key by hand (it must be a mapping or empty); nothing was written.",
                    line: pair.value.mark?.line)
            }
        }
        return nil
    }

    /// Yams does not keep the collection style, so a flow mapping is recognised by the `{` its mark points at.
    static func isFlow(_ node: Node, _ source: SourceText) -> Bool {
        guard case .mapping = node, let mark = node.mark, let offset = source.offset(of: mark),
              offset < source.scalars.count else { return false }
        return source.scalars[offset] == "{"
    }

    // MARK: Replacing a scalar

    private static func replacement(
        of value: Node, key: String, with rendered: String, inFlow: Bool, source: SourceText
    ) throws(ProxyConfigError) -> TextEdit {
        guard let scalar = value.scalar, let mark = scalar.mark, let start = source.offset(of: mark) else {
            throw layout("\(key) holds a mapping or a list where kube-proxy expects a single value", line: value.mark?.line)
        }
        if scalar.style == .plain, scalar.string.isEmpty, value.isTagged(.null) {
            return try emptyValue(at: start, key: key, rendered: rendered, source: source, line: mark.line)
        }
        let range = try span(of: scalar, at: start, inFlow: inFlow, key: key, source: source)
        return TextEdit(range: range, replacement: rendered)
    }

    /// An empty value (`mode:`): libyaml marks it at or after the `:`; the new value goes right after the colon.
    private static func emptyValue(
        at start: Int, key: String, rendered: String, source: SourceText, line: Int
    ) throws(ProxyConfigError) -> TextEdit {
        var colon = start - 1
        while colon >= 0, [" ", "\t", "\r", "\n"].contains(source.scalars[colon]) { colon -= 1 }
        guard colon >= 0, source.scalars[colon] == ":" else {
            throw layout("the empty value of \(key) could not be located", line: line)
        }
        return TextEdit(range: colon + 1..<colon + 1, replacement: " " + rendered)
    }

    /// The exact source range of a one-line scalar, checked against the value Yams parsed.
    private static func span(
        of scalar: Node.Scalar, at start: Int, inFlow: Bool, key: String, source: SourceText
    ) throws(ProxyConfigError) -> Range<Int> {
        let characters = source.scalars
        let lineEnd = source.lineEnds[source.line(of: start)]
        let line = scalar.mark?.line
        switch scalar.style {
        case .doubleQuoted, .singleQuoted:
            let quote: Unicode.Scalar = scalar.style == .doubleQuoted ? "\"" : "'"
            guard start < lineEnd, characters[start] == quote else {
                throw layout("the value of \(key) carries an anchor or tag", line: line)
            }
            var index = start + 1
            while index < lineEnd {
                if quote == "\"", characters[index] == "\\" {
                    index += 2
                    continue
                }
                if characters[index] == quote {
                    if quote == "'", index + 1 < lineEnd, characters[index + 1] == "'" {
                        index += 2
                        continue
                    }
                    break
                }
                index += 1
            }
            guard index < lineEnd else { throw layout("the quoted value of \(key) spans several lines", line: line) }
            var inner = source.text(start + 1..<index)
            if quote == "'" { inner = inner.replacingOccurrences(of: "''", with: "'") }
            guard inner == scalar.string else {
                throw layout("the value of \(key) uses escapes kpswitch does not rewrite", line: line)
            }
            return start..<index + 1
        case .plain:
            var index = start
            while index < lineEnd {
                let character = characters[index]
                if character == "#", index > start, characters[index - 1] == " " || characters[index - 1] == "\t" { break }
                if inFlow, character == "," || character == "}" || character == "]" { break }
                index += 1
            }
            while index > start, characters[index - 1] == " " || characters[index - 1] == "\t" { index -= 1 }
            guard source.text(start..<index) == scalar.string else {
                throw layout("the value of \(key) spans several lines or carries an anchor or tag", line: line)
            }
            return start..<index
        default:
            throw layout("the value of \(key) is a block scalar (| or >)", line: line)
        }
    }

    private static func layout(_ what: String, line: Int?) -> ProxyConfigError {
        ProxyConfigError(
            .unsupportedLayout, "\(what); kpswitch edits only plain or quoted one-line values.",
            remediation: "Write the value on one line (for example `mode: iptables`) and run kpswitch again; nothing was written.",
            runbook: .migrate("manual-config-edit"), line: line)
    }

    // MARK: Rendering

    /// A value in the quoting style of the scalar it replaces; booleans are always plain, since a quoted
    /// "true" is a string kube-proxy would reject.
    static func render(_ value: ConfigEdit.Value, style: Node.Scalar.Style?) -> String {
        switch value {
        case .bool(let flag):
            return flag ? "true" : "false"
        case .string(let text):
            switch style {
            case .singleQuoted: return "'" + text.replacingOccurrences(of: "'", with: "''") + "'"
            case .doubleQuoted: return doubleQuoted(text)
            default: return isSafePlain(text) ? text : doubleQuoted(text)
            }
        }
    }

    private static func doubleQuoted(_ text: String) -> String {
        "\"" + text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
    }

    /// Letters only, and not a word YAML 1.1 reads as a boolean or null.
    private static func isSafePlain(_ text: String) -> Bool {
        let words: Set = ["y", "n", "yes", "no", "on", "off", "true", "false", "null"]
        return !text.isEmpty && text.unicodeScalars.allSatisfy { ("a"..."z").contains($0) || ("A"..."Z").contains($0) }
            && !words.contains(text.lowercased())
    }
}
