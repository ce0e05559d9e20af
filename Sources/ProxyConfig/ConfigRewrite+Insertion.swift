import Yams

extension ConfigRewrite {
    /// Inserts the missing `path` (one key, or a key and the mapping below it) into `mapping`.
    static func insertion(
        of path: ArraySlice<String>, value: ConfigEdit.Value, into mapping: Node, inFlow: Bool, source: SourceText
    ) throws(ProxyConfigError) -> TextEdit {
        guard case .mapping(let pairs) = mapping else {
            throw ProxyConfigError(.unsupportedLayout, "the parent of \(path.joined(separator: ".")) is not a mapping.",
                                   remediation: "Fix it by hand; nothing was written.", line: mapping.mark?.line)
        }
        if inFlow || isFlow(mapping, source) {
            return try flowInsertion(of: Array(path), value: value, into: mapping, source: source)
        }
        return try blockInsertion(of: Array(path), value: value, into: pairs, source: source)
    }

    // MARK: Flow mappings (`ipvs: {scheduler: rr}`, JSON)

    private static func flowInsertion(
        of path: [String], value: ConfigEdit.Value, into mapping: Node, source: SourceText
    ) throws(ProxyConfigError) -> TextEdit {
        let failure = ProxyConfigError(
            .unsupportedLayout, "the flow mapping holding \(path.joined(separator: ".")) could not be delimited.",
            remediation: "Write that mapping in block style and run kpswitch again; nothing was written.",
            runbook: .migrate("manual-config-edit"), line: mapping.mark?.line)
        guard let mark = mapping.mark, let open = source.offset(of: mark), open < source.scalars.count,
              source.scalars[open] == "{", let bounds = flowBounds(openingAt: open, in: source.scalars)
        else { throw failure }
        let json = mapping.mapping?.first.map { pair in isJSONKey(pair.key, source: source) } ?? false
        let entry = renderFlowEntry(path, value: value, json: json)
        guard let last = bounds.lastSignificant else {
            return TextEdit(range: open + 1..<open + 1, replacement: entry)
        }
        let separator = source.scalars[last - 1] == "," ? " " : ", "
        return TextEdit(range: last..<last, replacement: separator + entry)
    }

    static func isJSONKey(_ key: Node, source: SourceText) -> Bool {
        guard let mark = key.mark, let offset = source.offset(of: mark), offset < source.scalars.count else { return false }
        return source.scalars[offset] == "\""
    }

    static func renderFlowEntry(_ path: [String], value: ConfigEdit.Value, json: Bool) -> String {
        let key = json ? "\"\(path[0])\"" : path[0]
        if path.count == 1 { return "\(key): \(render(value, style: json ? .doubleQuoted : .plain))" }
        return "\(key): {\(renderFlowEntry(Array(path.dropFirst()), value: value, json: json))}"
    }

    /// The closing bracket of a flow collection and the end of its last entry, skipping quotes, nested
    /// collections and comments; nil when the text does not close the collection.
    static func flowBounds(openingAt open: Int, in text: [Unicode.Scalar]) -> (close: Int, lastSignificant: Int?)? {
        var depth = 0
        var lastSignificant: Int?
        var previous: Unicode.Scalar = "{"
        var index = open
        while index < text.count {
            let character = text[index]
            switch character {
            case "{", "[":
                depth += 1
                if depth > 1 { previous = character }
            case "}", "]":
                depth -= 1
                if depth == 0 { return (character == "}") == (text[open] == "{") ? (index, lastSignificant) : nil }
                if depth == 1 { lastSignificant = index + 1 }
                previous = character
            case "#" where index == 0 || [" ", "\t", "\r", "\n"].contains(text[index - 1]):
                while index < text.count, text[index] != "\n", text[index] != "\r" { index += 1 }
                continue
            case "\"", "'":
                // A quote opens a scalar only where one may start; inside a plain scalar (`don't`) it is text.
                guard ["{", "[", ",", ":", "?"].contains(previous) else {
                    if depth == 1 { lastSignificant = index + 1 }
                    previous = character
                    break
                }
                index += 1
                while index < text.count {
                    if character == "\"", text[index] == "\\" {
                        index += 2
                        continue
                    }
                    if text[index] == character {
                        if character == "'", index + 1 < text.count, text[index + 1] == "'" {
                            index += 2
                            continue
                        }
                        break
                    }
                    index += 1
                }
                guard index < text.count else { return nil }
                if depth == 1 { lastSignificant = index + 1 }
                previous = character
            case " ", "\t", "\r", "\n":
                break
            default:
                if depth == 1 { lastSignificant = index + 1 }
                previous = character
            }
            index += 1
        }
        return nil
    }

    // MARK: Block mappings

    private static func blockInsertion(
        of path: [String], value: ConfigEdit.Value, into pairs: Node.Mapping, source: SourceText
    ) throws(ProxyConfigError) -> TextEdit {
        let keys = pairs.map { ConfigValueTree.keyName($0.key) }
        guard let firstMark = pairs.first?.key.mark, let firstOffset = source.offset(of: firstMark),
              let lastMark = pairs.map(\.key).last?.mark, let lastOffset = source.offset(of: lastMark)
        else {
            throw ProxyConfigError(.unsupportedLayout, "the mapping to hold \(path.joined(separator: ".")) is empty or unmarked.",
                                   remediation: "Add the key by hand; nothing was written.", runbook: .migrate("manual-config-edit"))
        }
        let indent = firstOffset - source.lineStarts[source.line(of: firstOffset)]
        let step = indentStep(source)
        var lines = [String(repeating: " ", count: indent) + blockEntry(path[0], path.count == 1 ? value : nil)]
        if path.count == 2 {
            lines.append(String(repeating: " ", count: indent + step) + blockEntry(path[1], value))
        }
        // Hand-written files often lead with apiVersion and kind and sort the rest; kubeadm sorts all.
        let header: Set = ["apiVersion", "kind"]
        let ordered = keys.filter { !header.contains($0) }
        let sorted = zip(ordered, ordered.dropFirst()).allSatisfy { $0 < $1 }
        if sorted, let next = pairs.first(where: { pair in
            let name = ConfigValueTree.keyName(pair.key)
            return !header.contains(name) && name > path[0]
        })?.key,
           let mark = next.mark, let offset = source.offset(of: mark) {
            var line = source.line(of: offset)
            let prefix = source.text(source.lineStarts[line]..<offset)
            if prefix.allSatisfy({ $0 == " " }), prefix.count == indent {
                // A comment right above a key belongs to it: insert above the comment.
                while line > 0, isCommentLine(line - 1, source) { line -= 1 }
                let text = lines.map { $0 + source.lineBreak }.joined()
                return TextEdit(range: source.lineStarts[line]..<source.lineStarts[line], replacement: text)
            }
        }
        var lastContent = source.line(of: lastOffset)
        // A flow collection may close on a line no deeper than its key (`ipvs: {` … `}`).
        if let valueMark = pairs.map(\.value).last?.mark, let valueOffset = source.offset(of: valueMark),
           valueOffset < source.scalars.count, ["{", "["].contains(source.scalars[valueOffset]),
           let bounds = flowBounds(openingAt: valueOffset, in: source.scalars) {
            lastContent = source.line(of: bounds.close)
        }
        var line = lastContent + 1
        while line < source.lineCount {
            let shape = source.lineShape(line)
            if !shape.isBlankOrComment {
                if shape.indent <= indent { break }
                lastContent = line
            }
            line += 1
        }
        let end = source.lineEnds[lastContent]
        let lineBreak = lastContent + 1 < source.lineCount
            ? source.text(end..<source.lineStarts[lastContent + 1]) : source.lineBreak
        return TextEdit(range: end..<end, replacement: lines.map { lineBreak + $0 }.joined())
    }

    private static func blockEntry(_ key: String, _ value: ConfigEdit.Value?) -> String {
        guard let value else { return "\(key):" }
        return "\(key): \(render(value, style: .plain))"
    }

    private static func isCommentLine(_ line: Int, _ source: SourceText) -> Bool {
        source.lineText(line).drop { $0 == " " }.first == "#"
    }

    /// The indentation step the document uses for nested block mappings; 2 when it has none.
    private static func indentStep(_ source: SourceText) -> Int {
        var previousIndent: Int?
        for line in 0..<source.lineCount {
            let shape = source.lineShape(line)
            guard !shape.isBlankOrComment else { continue }
            if let previousIndent, shape.indent > previousIndent,
               source.lineText(line - 0).drop(while: { $0 == " " }).first != "-" {
                return shape.indent - previousIndent
            }
            previousIndent = source.lineText(line).hasSuffix(":") ? shape.indent : nil
        }
        return 2
    }
}
