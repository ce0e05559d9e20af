/// How many Kubernetes service ports and endpoints a captured ruleset programs.
///
/// kube-proxy works per service port (`namespace/name:port`), so a Service with two ports counts twice.
public struct ProgrammedServices: Equatable, Sendable {
    public let servicePorts: Int
    public let endpoints: Int

    public init(servicePorts: Int, endpoints: Int) {
        self.servicePorts = servicePorts
        self.endpoints = endpoints
    }
}

extension IPTablesRuleset {
    /// Counts kube-proxy's iptables-mode layout: every service port has a rule in a `KUBE-SERVICES`
    /// chain whose comment starts with `namespace/name:port` (nat when it has endpoints, filter's
    /// REJECT "has no endpoints" when not); every endpoint of a service port has one `KUBE-SEP-` chain.
    public var kubeProxyServices: ProgrammedServices {
        var ports: Set<String> = []
        var endpoints = 0
        for table in tables {
            for rule in table.rules where rule.chain == "KUBE-SERVICES" || rule.chain == "KUBE-EXTERNAL-SERVICES" {
                guard let comment = rule.comment, let name = comment.split(separator: " ").first, name.contains("/")
                else { continue }
                ports.insert(String(name))
            }
            if table.name == "nat" {
                endpoints += table.chains.count { $0.hasPrefix("KUBE-SEP-") }
            }
        }
        return ProgrammedServices(servicePorts: ports.count, endpoints: endpoints)
    }
}
