import Foundation
import Yams

/// One kubeconfig file as parsed, before merging: named stanzas keep the file that defined them, because
/// relative paths resolve against that file's directory and errors must name it.
struct KubeConfigFile {
    struct Stanza {
        let name: String
        /// The inner mapping (`cluster:`, `context:` or `user:`).
        let fields: [String: Any]
        let file: String
        /// How errors name it: `users[name=alice].user`.
        let field: String

        func string(_ key: String) throws(KubeAPIError) -> String? {
            guard let value = fields[key] else { return nil }
            guard let text = value as? String else {
                if value is NSNull { return nil }
                throw .kubeconfig(
                    file: file, field: "\(field).\(key)", "must be a string",
                    fix: "Quote the value or fix its indentation.")
            }
            return text
        }

        func bool(_ key: String) throws(KubeAPIError) -> Bool? {
            guard let value = fields[key] else { return nil }
            guard let flag = value as? Bool else {
                throw .kubeconfig(
                    file: file, field: "\(field).\(key)", "must be true or false",
                    fix: "Write true or false without quotes.")
            }
            return flag
        }
    }

    let path: String
    let currentContext: String?
    let clusters: [Stanza]
    let contexts: [Stanza]
    let users: [Stanza]

    var directory: String { URL(fileURLWithPath: path).deletingLastPathComponent().path }

    static func read(path: String) throws(KubeAPIError) -> KubeConfigFile {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw .kubeconfig(
                file: path, field: "(file)", "cannot be read as UTF-8 text",
                fix: "Check the file's permissions and that it is a kubeconfig.")
        }
        return try parse(text, path: path)
    }

    static func parse(_ text: String, path: String) throws(KubeAPIError) -> KubeConfigFile {
        let document: Any?
        do {
            document = try Yams.load(yaml: text)
        } catch let error as YamlError {
            throw .kubeconfig(
                file: path, field: "(YAML)", "is not valid YAML (\(describe(error)))",
                fix: "Fix the syntax at that line, e.g. with `kubectl config view --kubeconfig \(path)`.")
        } catch {
            throw .kubeconfig(
                file: path, field: "(YAML)", "is not valid YAML", fix: "Fix the file's syntax.")
        }
        guard let document else {
            return KubeConfigFile(path: path, currentContext: nil, clusters: [], contexts: [], users: [])
        }
        guard let root = document as? [String: Any] else {
            throw .kubeconfig(
                file: path, field: "(top level)", "is not a mapping",
                fix: "A kubeconfig is a mapping with clusters, contexts, users and current-context.")
        }
        var current: String?
        if let value = root["current-context"], !(value is NSNull) {
            guard let name = value as? String else {
                throw .kubeconfig(
                    file: path, field: "current-context", "must be a string", fix: "Name a context.")
            }
            current = name.isEmpty ? nil : name
        }
        return KubeConfigFile(
            path: path, currentContext: current,
            clusters: try stanzas(root, list: "clusters", inner: "cluster", path: path),
            contexts: try stanzas(root, list: "contexts", inner: "context", path: path),
            users: try stanzas(root, list: "users", inner: "user", path: path))
    }

    private static func stanzas(
        _ root: [String: Any], list: String, inner: String, path: String
    ) throws(KubeAPIError) -> [Stanza] {
        guard let value = root[list], !(value is NSNull) else { return [] }
        guard let items = value as? [Any] else {
            throw .kubeconfig(
                file: path, field: list, "must be a list of named entries",
                fix: "Write each entry as `- name: ...` followed by `\(inner):`.")
        }
        var result: [Stanza] = []
        for (index, item) in items.enumerated() {
            guard let entry = item as? [String: Any] else {
                throw .kubeconfig(
                    file: path, field: "\(list)[\(index)]", "is not a mapping",
                    fix: "Write the entry as `- name: ...` followed by `\(inner):`.")
            }
            guard let name = entry["name"] as? String, !name.isEmpty else {
                throw .kubeconfig(
                    file: path, field: "\(list)[\(index)].name", "is missing",
                    fix: "Give every entry of \(list) a name.")
            }
            let fieldName = "\(list)[name=\(name)].\(inner)"
            var fields: [String: Any] = [:]
            if let body = entry[inner], !(body is NSNull) {
                guard let mapping = body as? [String: Any] else {
                    throw .kubeconfig(
                        file: path, field: fieldName, "is not a mapping", fix: "Check the entry's indentation.")
                }
                fields = mapping
            }
            result.append(Stanza(name: name, fields: fields, file: path, field: fieldName))
        }
        return result
    }

    /// Line, column and problem only: Yams' own description quotes the source, which may hold a token.
    private static func describe(_ error: YamlError) -> String {
        switch error {
        case .scanner(_, let problem, let mark, _), .parser(_, let problem, let mark, _),
            .composer(_, let problem, let mark, _):
            return "line \(mark.line), column \(mark.column): \(problem)"
        case .reader(let problem, _, _, _):
            return problem
        case .duplicatedKeysInMapping(let duplicates, _):
            return "duplicated keys \(duplicates.joined(separator: ", "))"
        default:
            return "unreadable document"
        }
    }
}
