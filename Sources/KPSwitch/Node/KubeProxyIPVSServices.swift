import IPVS
import KubeAPI

/// Which IPVS virtual servers kube-proxy made. On the node (root, `ip addr` at hand): those on an address
/// bound to kube-ipvs0 (ClusterIPs, external and load-balancer IPs), and NodePorts (30000–32767 by default)
/// on the node's own addresses. Through an agent, which has no `ip`: those whose protocol, address and port
/// are a Service's ClusterIP, external or load-balancer IP and port, and the Services' allocated NodePorts
/// on any address. kube-proxy never makes firewall-mark services. Preflight warns about the others; cleanup
/// keeps them.
struct KubeProxyIPVSServices: Sendable {
    static let nodePorts: ClosedRange<UInt16> = 30000...32767

    private enum Owners: Sendable {
        case links(kubeIPVS0: Set<String>, nodeAddresses: Set<String>)
        case services(ServiceAddresses)
    }

    private let owners: Owners

    /// From addresses per link, as `ip -o addr show` lists them.
    init(linkAddresses: [String: [String]]) {
        owners = .links(
            kubeIPVS0: Set(linkAddresses["kube-ipvs0"] ?? []),
            nodeAddresses: Set(linkAddresses.filter { $0.key != "kube-ipvs0" }.values.joined()))
    }

    /// From the Services the API lists.
    init(services: ServiceAddresses) {
        owners = .services(services)
    }

    func owns(_ key: IPVSService.Key) -> Bool {
        guard case .endpoint(let proto, let address, let port) = key else { return false }
        switch owners {
        case .links(let kubeIPVS0, let nodeAddresses):
            let text = address.description
            return kubeIPVS0.contains(text) || (nodeAddresses.contains(text) && Self.nodePorts.contains(port))
        case .services(let services):
            return services.serves(proto, address, port: port)
        }
    }
}

/// Where kube-proxy serves the Services, as IPVS keys it: every port of a Service on its ClusterIPs,
/// external IPs and load-balancer ingress IPs, and every allocated NodePort. Held as text keys, one per
/// Service port and address: a cluster's Services, not its nodes, decide the size.
struct ServiceAddresses: Sendable, Equatable {
    private var virtualIPs: Set<String> = []
    private var nodePorts: Set<String> = []

    mutating func add(_ service: Service) {
        guard let spec = service.json["spec"] else { return }
        var addresses = (spec["clusterIPs"]?.arrayValue ?? []).compactMap(\.stringValue)
        if addresses.isEmpty, let clusterIP = spec["clusterIP"]?.stringValue { addresses = [clusterIP] }
        addresses += (spec["externalIPs"]?.arrayValue ?? []).compactMap(\.stringValue)
        addresses += (service.json[path: ["status", "loadBalancer", "ingress"]]?.arrayValue ?? []).compactMap { $0["ip"]?.stringValue }
        // A headless Service ("None") and an ExternalName one have no virtual server.
        let parsed = addresses.compactMap(IPVSAddress.init)
        for port in spec["ports"]?.arrayValue ?? [] {
            guard let number = port["port"]?.intValue.flatMap(UInt16.init(exactly:)) else { continue }
            let proto = (port["protocol"]?.stringValue ?? "TCP").uppercased()
            for address in parsed { virtualIPs.insert(Self.key(proto, address, number)) }
            if let nodePort = port["nodePort"]?.intValue.flatMap(UInt16.init(exactly:)) {
                nodePorts.insert("\(proto) \(nodePort)")
            }
        }
    }

    func serves(_ proto: IPVSProtocol, _ address: IPVSAddress, port: UInt16) -> Bool {
        let name = proto.description
        return virtualIPs.contains(Self.key(name, address, port)) || nodePorts.contains("\(name) \(port)")
    }

    /// Kubernetes' protocol names are IPVS's (TCP when unset).
    private static func key(_ proto: String, _ address: IPVSAddress, _ port: UInt16) -> String {
        "\(proto) \(address) \(port)"
    }
}
