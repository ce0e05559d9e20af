import ProxyConfig
import Testing
@testable import KPSwitch

@Suite("advice")
struct AdviceTests {
    static func facts(
        version: String = "v1.34.1", mode: ProxyMode = .iptables, services: Int = 40, endpoints: Int = 120,
        maxPerService: Int = 6, kernels: [String] = ["6.1.0-28-amd64", "6.1.0-28-amd64"]
    ) -> ClusterFacts {
        ClusterFacts(
            kubernetesVersion: KubernetesVersion(version) ?? KubernetesVersion(major: 0, minor: 0),
            currentMode: mode, services: services, servicePorts: services, endpoints: endpoints,
            maxEndpointsPerService: maxPerService, p99EndpointsPerService: maxPerService,
            nodes: kernels.enumerated().map { .init(name: "node-\($0.offset)", kernel: $0.element, osImage: "Debian GNU/Linux 12") })
    }

    @Test("a small iptables cluster stays on iptables, and says why with its numbers")
    func small() {
        let advice = Advice(facts: Self.facts())
        #expect(advice.recommended == .iptables)
        #expect(advice.cost == nil)
        #expect(advice.reasons[0] == "40 services (40 ports) and 120 endpoints: below ~500, where iptables is simple and fine")
    }

    @Test("600 services on modern kernels and 1.34: nftables, cleaned by kube-proxy itself")
    func largeModern() throws {
        let advice = Advice(facts: Self.facts(services: 600, endpoints: 2_400))
        #expect(advice.recommended == .nftables)
        #expect(try #require(advice.cost).cleanup == .kubeProxyCleansItself)
        #expect(advice.reasons.contains("nftables is GA in Kubernetes 1.34 and the mode upstream recommends"))
    }

    @Test("mixed kernels rule nftables out and name the old nodes; a large cluster gets IPVS with its deprecation")
    func mixedKernels() throws {
        let advice = Advice(facts: Self.facts(version: "v1.35.0", services: 10_000, endpoints: 100_000,
                                              kernels: ["6.1.0", "5.10.0-28-amd64", "6.1.0"]))
        #expect(advice.recommended == .ipvs)
        #expect(advice.reasons.contains { $0.hasPrefix("1 of 3 nodes run a kernel older than 5.13") && $0.hasSuffix("which nftables mode requires: node-1 (5.10.0)") })
        #expect(advice.reasons.contains { $0.hasPrefix("IPVS is deprecated since Kubernetes 1.35") })
        #expect(try #require(advice.cost).cleanup == .initContainer)
    }

    @Test("an IPVS cluster that can run nftables is advised to leave IPVS")
    func leaveIPVS() throws {
        let advice = Advice(facts: Self.facts(version: "1.33", mode: .ipvs, services: 3_000, endpoints: 9_000))
        #expect(advice.recommended == .nftables)
        #expect(try #require(advice.cost).cleanup == .kubeProxyCleansItself)
    }

    @Test("a small IPVS cluster on old kernels goes back to iptables, which needs an explicit cleanup")
    func smallIPVSOldKernels() throws {
        let advice = Advice(facts: Self.facts(mode: .ipvs, kernels: ["4.19.0"]))
        #expect(advice.recommended == .iptables)
        #expect(try #require(advice.cost).cleanup == .initContainer)
    }

    @Test("nftables availability by Kubernetes version", arguments: [
        ("1.28", Advice.Availability.unavailable), ("1.29", .alpha), ("1.30", .alpha), ("1.31", .beta),
        ("1.32", .beta), ("1.33", .generallyAvailable), ("v1.36.0-eks-1", .generallyAvailable),
    ])
    func availability(_ version: String, _ expected: Advice.Availability) throws {
        #expect(Advice.nftablesAvailability(try #require(KubernetesVersion(version))) == expected)
    }

    @Test("alpha nftables is not recommended, even at scale")
    func alpha() {
        #expect(Advice(facts: Self.facts(version: "1.30", services: 5_000, endpoints: 20_000)).recommended == .ipvs)
    }

    @Test("a service above 250 endpoints is called out")
    func bigService() {
        let advice = Advice(facts: Self.facts(services: 10, endpoints: 900, maxPerService: 800))
        #expect(advice.reasons.contains { $0.hasPrefix("the largest service has 800 endpoints") })
    }
}
