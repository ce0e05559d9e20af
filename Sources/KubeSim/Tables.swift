import Foundation

/// Server-side printing: the `meta.k8s.io/v1` Table kubectl asks for when it prints columns itself.
enum Tables {
    static func wantsTable(_ accept: String) -> Bool {
        accept.contains("as=Table") && accept.contains("g=meta.k8s.io")
    }

    static func render(_ object: JSONValue, resource: ResourceType, accept: String, listMetadata: JSONValue?) -> JSONValue? {
        renderList([object], resource: resource, accept: accept, listMetadata: listMetadata ?? ["resourceVersion": object[path: ["metadata", "resourceVersion"]] ?? ""])
    }

    static func renderList(_ objects: [JSONValue], resource: ResourceType, accept: String, listMetadata: JSONValue) -> JSONValue? {
        guard wantsTable(accept) else { return nil }
        let columns = columns(for: resource)
        let rows: [JSONValue] = objects.map { object in
            var metadata = object["metadata"] ?? [:]
            metadata["managedFields"] = nil
            return [
                "cells": .array(cells(for: resource, object)),
                "object": ["kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": metadata],
            ]
        }
        return [
            "kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": listMetadata,
            "columnDefinitions": .array(columns.map { c in
                ["name": .string(c.name), "type": .string(c.type), "format": .string(c.name == "Name" ? "name" : ""),
                 "description": "", "priority": .int(Int64(c.priority))]
            }),
            "rows": .array(rows),
        ]
    }

    private static func columns(for resource: ResourceType) -> [(name: String, type: String, priority: Int)] {
        switch resource {
        case .pods:
            return [("Name", "string", 0), ("Ready", "string", 0), ("Status", "string", 0), ("Restarts", "string", 0),
                    ("Age", "string", 0), ("IP", "string", 1), ("Node", "string", 1)]
        case .daemonSets:
            return [("Name", "string", 0), ("Desired", "integer", 0), ("Current", "integer", 0), ("Ready", "integer", 0),
                    ("Up-to-date", "integer", 0), ("Available", "integer", 0), ("Node Selector", "string", 0),
                    ("Age", "string", 0), ("Containers", "string", 1), ("Images", "string", 1)]
        case .configMaps: return [("Name", "string", 0), ("Data", "integer", 0), ("Age", "string", 0)]
        case .nodes:
            return [("Name", "string", 0), ("Status", "string", 0), ("Roles", "string", 0), ("Age", "string", 0),
                    ("Version", "string", 0), ("Internal-IP", "string", 1), ("OS-Image", "string", 1),
                    ("Kernel-Version", "string", 1)]
        case .services:
            return [("Name", "string", 0), ("Type", "string", 0), ("Cluster-IP", "string", 0), ("External-IP", "string", 0),
                    ("Port(s)", "string", 0), ("Age", "string", 0)]
        case .namespaces: return [("Name", "string", 0), ("Status", "string", 0), ("Age", "string", 0)]
        default: return [("Name", "string", 0), ("Age", "string", 0)]
        }
    }

    private static func cells(for resource: ResourceType, _ o: JSONValue) -> [JSONValue] {
        let name = JSONValue.string(o[path: ["metadata", "name"]]?.stringValue ?? "")
        let age = JSONValue.string(self.age(o[path: ["metadata", "creationTimestamp"]]?.stringValue))
        func int(_ path: [String]) -> JSONValue { .int(o[path: path]?.intValue ?? 0) }
        switch resource {
        case .pods:
            let statuses = o[path: ["status", "containerStatuses"]]?.arrayValue ?? []
            let total = o[path: ["spec", "containers"]]?.arrayValue?.count ?? 0
            let ready = statuses.filter { $0["ready"]?.boolValue == true }.count
            let restarts = statuses.reduce(Int64(0)) { $0 + ($1["restartCount"]?.intValue ?? 0) }
            var status = o[path: ["status", "phase"]]?.stringValue ?? "Pending"
            for s in statuses {
                if let reason = s[path: ["state", "waiting", "reason"]]?.stringValue { status = reason }
            }
            if o[path: ["metadata", "deletionTimestamp"]] != nil { status = "Terminating" }
            return [name, .string("\(ready)/\(total)"), .string(status), .string(String(restarts)), age,
                    .string(o[path: ["status", "podIP"]]?.stringValue ?? "<none>"),
                    .string(o[path: ["spec", "nodeName"]]?.stringValue ?? "<none>")]
        case .daemonSets:
            let selector = (o[path: ["spec", "template", "spec", "nodeSelector"]]?.objectValue ?? [:])
                .sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value.stringValue ?? "")" }.joined(separator: ",")
            let containers = o[path: ["spec", "template", "spec", "containers"]]?.arrayValue ?? []
            return [name, int(["status", "desiredNumberScheduled"]), int(["status", "currentNumberScheduled"]),
                    int(["status", "numberReady"]), int(["status", "updatedNumberScheduled"]),
                    int(["status", "numberAvailable"]), .string(selector.isEmpty ? "<none>" : selector), age,
                    .string(containers.compactMap { $0["name"]?.stringValue }.joined(separator: ",")),
                    .string(containers.compactMap { $0["image"]?.stringValue }.joined(separator: ","))]
        case .configMaps:
            let count = (o["data"]?.objectValue?.count ?? 0) + (o["binaryData"]?.objectValue?.count ?? 0)
            return [name, .int(Int64(count)), age]
        case .nodes:
            let ready = (o[path: ["status", "conditions"]]?.arrayValue ?? []).first { $0["type"]?.stringValue == "Ready" }
            let roles = (o[path: ["metadata", "labels"]]?.objectValue ?? [:]).keys
                .filter { $0.hasPrefix("node-role.kubernetes.io/") }.map { String($0.dropFirst(24)) }.sorted()
            let ip = (o[path: ["status", "addresses"]]?.arrayValue ?? []).first { $0["type"]?.stringValue == "InternalIP" }
            return [name, .string(ready?["status"]?.stringValue == "True" ? "Ready" : "NotReady"),
                    .string(roles.isEmpty ? "<none>" : roles.joined(separator: ",")), age,
                    .string(o[path: ["status", "nodeInfo", "kubeletVersion"]]?.stringValue ?? ""),
                    .string(ip?["address"]?.stringValue ?? "<none>"),
                    .string(o[path: ["status", "nodeInfo", "osImage"]]?.stringValue ?? ""),
                    .string(o[path: ["status", "nodeInfo", "kernelVersion"]]?.stringValue ?? "")]
        case .services:
            let ports = (o[path: ["spec", "ports"]]?.arrayValue ?? []).map {
                "\($0["port"]?.intValue ?? 0)/\($0["protocol"]?.stringValue ?? "TCP")"
            }
            return [name, .string(o[path: ["spec", "type"]]?.stringValue ?? "ClusterIP"),
                    .string(o[path: ["spec", "clusterIP"]]?.stringValue ?? "<none>"), "<none>",
                    .string(ports.isEmpty ? "<none>" : ports.joined(separator: ",")), age]
        case .namespaces:
            return [name, .string(o[path: ["status", "phase"]]?.stringValue ?? "Active"), age]
        default:
            return [name, age]
        }
    }

    /// kubectl's HumanDuration, close enough for a listing.
    static func age(_ timestamp: String?) -> String {
        guard let timestamp else { return "<unknown>" }
        let date: Date
        do {
            date = try Date(timestamp, strategy: .iso8601)
        } catch {
            return "<unknown>"
        }
        let seconds = max(0, Int(Date().timeIntervalSince(date)))
        let minutes = seconds / 60
        let hours = minutes / 60
        switch seconds {
        case ..<120: return "\(seconds)s"
        case ..<600: return seconds % 60 == 0 ? "\(minutes)m" : "\(minutes)m\(seconds % 60)s"
        case ..<(3 * 3600): return "\(minutes)m"
        case ..<(8 * 3600): return minutes % 60 == 0 ? "\(hours)h" : "\(hours)h\(minutes % 60)m"
        case ..<(48 * 3600): return "\(hours)h"
        case ..<(8 * 86400): return hours % 24 == 0 ? "\(hours / 24)d" : "\(hours / 24)d\(hours % 24)h"
        default: return "\(hours / 24)d"
        }
    }
}
