import Foundation

/// Fills a new store from a scenario: namespaces, nodes, the scenario's objects, generated Services with their
/// EndpointSlices, and the `kubernetes` Service every cluster has.
struct ClusterSeeder {
    let scenario: Scenario
    let store: ObjectStore
    let kubelet: KubeletSimulator

    func seed() throws {
        let now = Date()
        var namespaces = ["default", "kube-node-lease", "kube-public", "kube-system"]
        for object in scenario.objects {
            if let ns = object[path: ["metadata", "namespace"]]?.stringValue, !namespaces.contains(ns) { namespaces.append(ns) }
        }
        if let ns = scenario.services?.namespace, !namespaces.contains(ns) { namespaces.append(ns) }
        let declared = Set(scenario.objects.filter { $0["kind"]?.stringValue == "Namespace" }
            .compactMap { $0[path: ["metadata", "name"]]?.stringValue })
        for ns in namespaces where !declared.contains(ns) {
            try create(.namespaces, ["apiVersion": "v1", "kind": "Namespace",
                                     "metadata": ["name": .string(ns), "labels": ["kubernetes.io/metadata.name": .string(ns)]],
                                     "spec": ["finalizers": ["kubernetes"]], "status": ["phase": "Active"]])
        }
        let nodeNames = try seedNodes(now: now)
        for object in scenario.objects { try load(object) }
        try create(.services, service(name: "kubernetes", namespace: "default", ip: "10.96.0.1", port: 443, targetPort: 6443,
                                      labels: ["component": "apiserver", "provider": "kubernetes"], selector: nil))
        try create(.endpointSlices, slice(service: "kubernetes", namespace: "default", port: 6443, portName: "https",
                                          endpoints: [("10.0.0.10", nil, nil)], managedBy: "endpointslicemirroring-controller.k8s.io"))
        if let services = scenario.services { try seedServices(services, nodeNames: nodeNames) }
    }

    private func create(_ resource: ResourceType, _ object: JSONValue) throws {
        do {
            try store.create(resource, object)
        } catch {
            throw KubeSimError.scenario("cannot load \(resource.kind) \(ObjectStore.key(of: object)): \(error.message)")
        }
    }

    private func load(_ object: JSONValue) throws {
        let kind = object["kind"]?.stringValue ?? ""
        let apiVersion = object["apiVersion"]?.stringValue ?? ""
        guard let resource = ResourceType.all.first(where: { $0.kind == kind && $0.groupVersion == apiVersion && !$0.isVirtual }) else {
            let known = ResourceType.all.filter { !$0.isVirtual }.map { "\($0.groupVersion) \($0.kind)" }.joined(separator: ", ")
            throw KubeSimError.scenario("object kind '\(apiVersion) \(kind)' is not served (served: \(known))")
        }
        guard object[path: ["metadata", "name"]]?.stringValue?.isEmpty == false else {
            throw KubeSimError.scenario("a \(kind) object has no metadata.name")
        }
        var o = object
        o[path: ["metadata", "resourceVersion"]] = nil
        o[path: ["metadata", "managedFields"]] = nil
        if resource.namespaced, o[path: ["metadata", "namespace"]] == nil { o[path: ["metadata", "namespace"]] = "default" }
        if resource == .daemonSets {
            if o[path: ["metadata", "generation"]] == nil { o[path: ["metadata", "generation"]] = 1 }
            o = Defaults.forUpdate(o, resource: resource)
        }
        try create(resource, o)
    }

    private func seedNodes(now: Date) throws -> [String] {
        var names: [String] = []
        var index = 0
        for group in scenario.nodeGroups {
            for i in 1...max(1, group.count) where group.count > 0 {
                index += 1
                let name = group.count == 1 && group.controlPlane ? group.namePrefix : "\(group.namePrefix)-\(i)"
                let ip = "10.0.\(index / 250).\(10 + index % 250)"
                var profile = NodeProfile(name: name, internalIP: ip, kernelVersion: group.kernelVersion,
                                          ipvs: group.ipvs, nftVersion: group.nftVersion, kubeletRunning: group.ready,
                                          startsAgents: group.startsAgents, ipvsServices: group.ipvsServices)
                if group.netfilter {
                    profile.networkNamespace = try kubelet.networks.create(node: name)
                    profile.kubeProxyOmits = group.kubeProxyOmitsServices
                }
                kubelet.register(profile)
                var labels: JSONValue = [
                    "beta.kubernetes.io/arch": "amd64", "beta.kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64",
                    "kubernetes.io/hostname": .string(name), "kubernetes.io/os": .string(group.os),
                ]
                labels["beta.kubernetes.io/os"] = .string(group.os)
                var spec: JSONValue = ["podCIDR": .string("10.244.\(index % 256).0/24"), "podCIDRs": [.string("10.244.\(index % 256).0/24")]]
                var taints: [JSONValue] = []
                if group.controlPlane {
                    labels["node-role.kubernetes.io/control-plane"] = ""
                    taints.append(["key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"])
                }
                if group.unschedulable {
                    spec["unschedulable"] = true
                    taints.append(["key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"])
                }
                let stamp = JSONValue.string(Timestamps.rfc3339(now))
                // What the node lifecycle controller shows for a node whose kubelet stopped posting status.
                let ready: JSONValue = group.ready
                    ? ["type": "Ready", "status": "True", "reason": "KubeletReady", "message": "kubelet is posting ready status",
                       "lastHeartbeatTime": stamp, "lastTransitionTime": stamp]
                    : ["type": "Ready", "status": "Unknown", "reason": "NodeStatusUnknown",
                       "message": "Kubelet stopped posting node status.", "lastHeartbeatTime": stamp, "lastTransitionTime": stamp]
                if !group.ready {
                    taints.append(["key": "node.kubernetes.io/unreachable", "effect": "NoSchedule", "timeAdded": stamp])
                    taints.append(["key": "node.kubernetes.io/unreachable", "effect": "NoExecute", "timeAdded": stamp])
                }
                if !taints.isEmpty { spec["taints"] = .array(taints) }
                let node: JSONValue = [
                    "apiVersion": "v1", "kind": "Node",
                    "metadata": ["name": .string(name), "labels": labels,
                                 "annotations": ["node.alpha.kubernetes.io/ttl": "0",
                                                 "volumes.kubernetes.io/controller-managed-attach-detach": "true"]],
                    "spec": spec,
                    "status": [
                        "addresses": [["type": "InternalIP", "address": .string(ip)], ["type": "Hostname", "address": .string(name)]],
                        "conditions": [ready],
                        "nodeInfo": ["kernelVersion": .string(group.kernelVersion), "osImage": .string(group.osImage),
                                     "kubeletVersion": .string(scenario.kubernetesVersion),
                                     "kubeProxyVersion": .string(scenario.kubernetesVersion),
                                     "containerRuntimeVersion": "containerd://1.7.24", "architecture": "amd64",
                                     "operatingSystem": .string(group.os), "machineID": "", "systemUUID": "", "bootID": ""],
                        "capacity": ["cpu": "2", "memory": "4015360Ki", "pods": "110"],
                        "allocatable": ["cpu": "2", "memory": "3912960Ki", "pods": "110"],
                    ],
                ]
                try create(.nodes, node)
                names.append(name)
            }
        }
        return names
    }

    private func seedServices(_ services: Scenario.Services, nodeNames: [String]) throws {
        var endpointCounter = 0
        for i in 1...max(1, services.count) where services.count > 0 {
            let name = String(format: "svc-%05d", i)
            let ip = "10.\(96 + (i + 10) / 65536).\(((i + 10) / 256) % 256).\((i + 10) % 256)"
            try create(.services, service(name: name, namespace: services.namespace, ip: ip, port: 80, targetPort: 8080,
                                          labels: ["app": .string(name)], selector: ["app": .string(name)]))
            var endpoints: [(String, String?, String?)] = []
            for _ in 0..<services.endpointsPerService {
                endpointCounter += 1
                let node = nodeNames.isEmpty ? nil : nodeNames[endpointCounter % nodeNames.count]
                endpoints.append(("10.244.\((endpointCounter / 250) % 256).\(2 + endpointCounter % 250)", node,
                                  "\(name)-\(Names.randomSuffix(length: 10))-\(Names.randomSuffix())"))
            }
            try create(.endpointSlices, slice(service: name, namespace: services.namespace, port: 8080, portName: "http",
                                              endpoints: endpoints, managedBy: "endpointslice-controller.k8s.io"))
        }
    }

    private func service(name: String, namespace: String, ip: String, port: Int64, targetPort: Int64,
                         labels: JSONValue, selector: JSONValue?) -> JSONValue {
        var spec: JSONValue = [
            "type": "ClusterIP", "clusterIP": .string(ip), "clusterIPs": [.string(ip)], "ipFamilies": ["IPv4"],
            "ipFamilyPolicy": "SingleStack", "internalTrafficPolicy": "Cluster", "sessionAffinity": "None",
            "ports": [["name": port == 443 ? "https" : "http", "port": .int(port), "protocol": "TCP", "targetPort": .int(targetPort)]],
        ]
        if let selector { spec["selector"] = selector }
        return ["apiVersion": "v1", "kind": "Service",
                "metadata": ["name": .string(name), "namespace": .string(namespace), "labels": labels],
                "spec": spec, "status": ["loadBalancer": [:]]]
    }

    private func slice(service: String, namespace: String, port: Int64, portName: String,
                       endpoints: [(ip: String, node: String?, pod: String?)], managedBy: String) -> JSONValue {
        ["apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "addressType": "IPv4",
         "metadata": ["name": .string(service == "kubernetes" ? "kubernetes" : "\(service)-\(Names.randomSuffix())"),
                      "namespace": .string(namespace),
                      "labels": ["kubernetes.io/service-name": .string(service),
                                 "endpointslice.kubernetes.io/managed-by": .string(managedBy)]],
         "endpoints": .array(endpoints.map { e in
             var ep: JSONValue = ["addresses": [.string(e.ip)],
                                  "conditions": ["ready": true, "serving": true, "terminating": false]]
             if let node = e.node { ep["nodeName"] = .string(node) }
             if let pod = e.pod { ep["targetRef"] = ["kind": "Pod", "name": .string(pod), "namespace": .string(namespace)] }
             return ep
         }),
         "ports": [["name": .string(portName), "port": .int(port), "protocol": "TCP"]]]
    }
}
