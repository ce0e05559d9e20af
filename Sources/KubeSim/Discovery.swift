/// The legacy (unaggregated) discovery documents. kubectl asks for the aggregated v2 form first and falls back to
/// these when the answer's Content-Type is plain application/json, as it does against servers older than 1.26.
enum Discovery {
    static func document(path: String, kubernetesVersion: String) -> JSONValue? {
        let trimmed = path.count > 1 && path.hasSuffix("/") ? String(path.dropLast()) : path
        switch trimmed {
        case "/version": return version(kubernetesVersion)
        case "/api":
            return ["kind": "APIVersions", "versions": ["v1"],
                    "serverAddressByClientCIDRs": [["clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1:6443"]]]
        case "/apis":
            let groups = ResourceType.groupVersions.filter { !$0.group.isEmpty }.map { group($0.group, $0.version) }
            return ["kind": "APIGroupList", "apiVersion": "v1", "groups": .array(groups)]
        case "/api/v1": return resourceList(group: "", version: "v1")
        default: break
        }
        let parts = trimmed.split(separator: "/").map(String.init)
        guard parts.first == "apis" else { return nil }
        if parts.count == 2, let gv = ResourceType.groupVersions.first(where: { $0.group == parts[1] }) {
            var g = group(gv.group, gv.version)
            g["kind"] = "APIGroup"
            g["apiVersion"] = "v1"
            return g
        }
        if parts.count == 3, ResourceType.groupVersions.contains(where: { $0.group == parts[1] && $0.version == parts[2] }) {
            return resourceList(group: parts[1], version: parts[2])
        }
        return nil
    }

    static func version(_ gitVersion: String) -> JSONValue {
        let numbers = gitVersion.dropFirst().split(separator: ".")
        return [
            "major": .string(numbers.first.map(String.init) ?? "1"),
            "minor": .string(numbers.count > 1 ? String(numbers[1]) : "0"),
            "gitVersion": .string(gitVersion), "gitCommit": "kube-sim", "gitTreeState": "clean",
            "buildDate": "2025-08-27T00:00:00Z", "goVersion": "go1.24.6", "compiler": "gc", "platform": "linux/amd64",
        ]
    }

    private static func group(_ name: String, _ version: String) -> JSONValue {
        let gv: JSONValue = ["groupVersion": .string("\(name)/\(version)"), "version": .string(version)]
        return ["name": .string(name), "versions": [gv], "preferredVersion": gv]
    }

    private static func resourceList(group: String, version: String) -> JSONValue {
        var resources: [JSONValue] = []
        for r in ResourceType.all where r.group == group && r.version == version {
            var entry: JSONValue = [
                "name": .string(r.plural), "singularName": .string(r.singular), "namespaced": .bool(r.namespaced),
                "kind": .string(r.kind), "verbs": .array(r.verbs.map(JSONValue.string)),
            ]
            if !r.shortNames.isEmpty { entry["shortNames"] = .array(r.shortNames.map(JSONValue.string)) }
            if !r.categories.isEmpty { entry["categories"] = .array(r.categories.map(JSONValue.string)) }
            resources.append(entry)
            for (sub, kind) in r.subresources.sorted(by: { $0.key < $1.key }) {
                resources.append([
                    "name": .string("\(r.plural)/\(sub)"), "singularName": "", "namespaced": .bool(r.namespaced),
                    "kind": .string(kind), "verbs": sub == "log" ? ["get"] : ["get", "patch", "update"],
                ])
            }
        }
        return [
            "kind": "APIResourceList", "apiVersion": "v1", "groupVersion": .string(group.isEmpty ? version : "\(group)/\(version)"),
            "resources": .array(resources),
        ]
    }
}
