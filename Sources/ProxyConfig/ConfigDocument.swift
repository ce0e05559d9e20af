import Yams

/// A KubeProxyConfiguration text parsed once: its source, its Yams node tree and its root mapping.
struct ConfigDocument {
    let source: SourceText
    let root: Node

    init(_ text: String) throws(ProxyConfigError) {
        if let scalar = text.unicodeScalars.first(where: { $0 == "\u{85}" || $0 == "\u{2028}" || $0 == "\u{2029}" }) {
            throw ProxyConfigError(
                .unsupportedLayout,
                "the configuration contains the Unicode line break U+\(String(scalar.value, radix: 16, uppercase: true)), which YAML counts as a line end.",
                remediation: "Replace it with a plain newline, then run kpswitch again.")
        }
        source = SourceText(text)
        var documents: [Node] = []
        do {
            let parser = try Parser(yaml: text)
            while let document = try parser.nextRoot() { documents.append(document) }
        } catch {
            throw Self.parseError(error)
        }
        guard documents.count <= 1 else {
            throw ProxyConfigError(
                .unsupportedLayout, "the configuration holds \(documents.count) YAML documents; kube-proxy reads one.",
                remediation: "Keep a single KubeProxyConfiguration document in the ConfigMap key.")
        }
        guard let root = documents.first, case .mapping = root else {
            throw ProxyConfigError(
                .notKubeProxyConfiguration, "the configuration is empty or not a YAML mapping.",
                remediation: "Check the ConfigMap key that kube-proxy's --config points to.")
        }
        self.root = root
        let kind = root["kind"]?.string
        let apiVersion = root["apiVersion"]?.string ?? ""
        guard kind == "KubeProxyConfiguration", apiVersion.hasPrefix("kubeproxy.config.k8s.io/") else {
            throw ProxyConfigError(
                .notKubeProxyConfiguration,
                "expected kind KubeProxyConfiguration of kubeproxy.config.k8s.io, found kind \(kind.map { "\"\($0)\"" } ?? "(none)") and apiVersion \"\(apiVersion)\".",
                remediation: "Point kpswitch at the ConfigMap key that kube-proxy's --config reads.",
                line: root.mark?.line)
        }
    }

    static func parseError(_ error: any Error) -> ProxyConfigError {
        var line: Int?
        if let yamlError = error as? YamlError {
            switch yamlError {
            case .scanner(_, _, let mark, _), .parser(_, _, let mark, _), .composer(_, _, let mark, _):
                line = mark.line
            case .duplicatedKeysInMapping(_, let context):
                line = context.mark.line
            default:
                break
            }
        }
        let reason = "\(error)".split(separator: "\n").first.map(String.init) ?? "\(error)"
        return ProxyConfigError(
            .unparsable, "the configuration is not valid YAML (\(reason)).",
            remediation: "Fix the YAML (tabs are not allowed for indentation) and run kpswitch again; nothing was written.",
            line: line)
    }
}
