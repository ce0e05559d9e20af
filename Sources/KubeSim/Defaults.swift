/// The defaulting kube-apiserver applies to the fields the simulator's controllers read.
enum Defaults {
    static func forCreate(_ object: JSONValue, resource: ResourceType) -> JSONValue {
        var o = object
        switch resource {
        case .daemonSets:
            o[path: ["metadata", "generation"]] = 1
            o[path: ["metadata", "annotations", "deprecated.daemonset.template.generation"]] = "1"
            o["status"] = ["currentNumberScheduled": 0, "desiredNumberScheduled": 0, "numberMisscheduled": 0, "numberReady": 0]
        case .pods:
            o["status"] = ["phase": "Pending", "qosClass": "BestEffort"]
        case .namespaces:
            o["status"] = ["phase": "Active"]
            if o[path: ["spec", "finalizers"]] == nil { o[path: ["spec", "finalizers"]] = ["kubernetes"] }
        default:
            break
        }
        return forUpdate(o, resource: resource)
    }

    static func forUpdate(_ object: JSONValue, resource: ResourceType) -> JSONValue {
        var o = object
        if resource == .daemonSets {
            if o[path: ["spec", "updateStrategy", "type"]] == nil {
                o[path: ["spec", "updateStrategy", "type"]] = "RollingUpdate"
            }
            if o[path: ["spec", "updateStrategy", "type"]]?.stringValue == "RollingUpdate" {
                if o[path: ["spec", "updateStrategy", "rollingUpdate", "maxUnavailable"]] == nil {
                    o[path: ["spec", "updateStrategy", "rollingUpdate", "maxUnavailable"]] = 1
                }
                if o[path: ["spec", "updateStrategy", "rollingUpdate", "maxSurge"]] == nil {
                    o[path: ["spec", "updateStrategy", "rollingUpdate", "maxSurge"]] = 0
                }
            }
            if o[path: ["spec", "revisionHistoryLimit"]] == nil { o[path: ["spec", "revisionHistoryLimit"]] = 10 }
        }
        return o
    }
}
