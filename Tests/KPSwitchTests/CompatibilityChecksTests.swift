import KubeAPI
import ProxyConfig
import Testing
@testable import KPSwitch

/// The pure parts of the compatibility checks; the checks themselves run against kube-sim in CLITests.
@Suite("compatibility checks")
struct CompatibilityChecksTests {
    static func object(labels: [String: String] = [:], annotations: [String: String] = [:], managers: [String] = []) -> DaemonSet {
        var set = DaemonSet(name: "kube-proxy", namespace: "kube-system")
        set.labels = labels
        set.annotations = annotations
        set.json[path: ["metadata", "managedFields"]] = .array(managers.map { ["manager": .string($0), "operation": "Apply"] })
        return set
    }

    @Test("owners: Argo CD, Flux and Helm marks, and Helm's instance label is not taken for Argo CD's")
    func owners() {
        typealias Owner = GitOpsOwnerCheck.Owner
        #expect(GitOpsOwnerCheck.owners(Self.object(labels: ["k8s-app": "kube-proxy"])) == [])
        #expect(GitOpsOwnerCheck.owners(Self.object(managers: ["argocd-controller"])) == [
            Owner(tool: .argoCD, evidence: "field manager argocd-controller", certain: true),
        ])
        #expect(GitOpsOwnerCheck.owners(Self.object(labels: ["app.kubernetes.io/instance": "infra"])) == [
            Owner(tool: .argoCD, evidence: "label app.kubernetes.io/instance=infra", certain: false),
        ])
        #expect(GitOpsOwnerCheck.owners(Self.object(
            labels: ["app.kubernetes.io/instance": "kube-proxy", "app.kubernetes.io/managed-by": "Helm",
                     "helm.toolkit.fluxcd.io/name": "kube-proxy", "helm.toolkit.fluxcd.io/namespace": "flux-system"],
            annotations: ["meta.helm.sh/release-name": "kube-proxy", "meta.helm.sh/release-namespace": "kube-system"],
            managers: ["helm-controller"])) == [
            Owner(tool: .flux, evidence: "label helm.toolkit.fluxcd.io/name=kube-proxy", certain: true),
            Owner(tool: .flux, evidence: "label helm.toolkit.fluxcd.io/namespace=flux-system", certain: true),
            Owner(tool: .flux, evidence: "field manager helm-controller", certain: true),
            Owner(tool: .helm, evidence: "release kube-system/kube-proxy, annotation meta.helm.sh/release-name", certain: true),
        ])
    }

    static func daemonSet(args: [String]) -> DaemonSet {
        var set = DaemonSet(name: "node-local-dns", namespace: "kube-system")
        set.templateContainers = [["name": "node-cache", "args": .array(args.map(JSONValue.string))]]
        return set
    }

    @Test("node-cache's -localip in the forms Go's flag package accepts", arguments: [
        (["-localip", "169.254.20.10,10.96.0.10", "-conf", "/etc/Corefile"], ["169.254.20.10", "10.96.0.10"]),
        (["--localip=169.254.25.10"], ["169.254.25.10"]),
        (["-conf", "/etc/Corefile"], []),
    ])
    func localIPs(args: [String], addresses: [String]) {
        #expect(NodeLocalDNSCacheCheck.localIPs(Self.daemonSet(args: args)) == addresses)
    }

    @Test("node-local-dns shares the kube-dns address: known from the Service, else anything not link-local", arguments: [
        ("fd00:10:96::a", Set(["fd00:10:96::a"]), true),
        ("fd00::20:10", Set(["fd00:10:96::a"]), false),
        ("10.96.0.10", Set<String>(), true),
        ("169.254.20.10", Set<String>(), false),
    ])
    func serviceAddress(address: String, clusterDNS: Set<String>, shared: Bool) {
        #expect(NodeLocalDNSCacheCheck.isServiceAddress(address, clusterDNS: clusterDNS) == shared)
    }

    @Test("localhost NodePorts are served unless turned off or nodePortAddresses leaves loopback out", arguments: [
        (KubeProxyConfigurationSummary(), true),
        (KubeProxyConfigurationSummary(iptablesLocalhostNodePorts: false), false),
        (KubeProxyConfigurationSummary(nodePortAddresses: ["10.0.0.0/8"]), false),
        (KubeProxyConfigurationSummary(nodePortAddresses: ["10.0.0.0/8", "127.0.0.0/8"]), true),
        (KubeProxyConfigurationSummary(nodePortAddresses: ["primary"]), false),
    ])
    func localhostNodePorts(config: KubeProxyConfigurationSummary, served: Bool) {
        #expect(LocalhostNodePortsCheck.servesLocalhost(config) == served)
    }

    @Test("the settings read from kube-proxy's flags when it runs without --config")
    func flagSettings() {
        var set = DaemonSet(name: "kube-proxy", namespace: "kube-system")
        set.templateContainers = [["name": "kube-proxy", "command": [
            "kube-proxy", "--proxy-mode=ipvs", "--ipvs-strict-arp", "--nodeport-addresses=10.0.0.0/8,127.0.0.0/8",
        ]]]
        let settings = KubeProxyState.flagSettings(set, mode: "ipvs")
        #expect(settings.ipvsStrictARP == true)
        #expect(settings.nodePortAddresses == ["10.0.0.0/8", "127.0.0.0/8"])
        #expect(settings.iptablesLocalhostNodePorts == nil)
    }

    @Test("the migration's permissions: 22, namespaced but for nodes, pods/log as a subresource, the agent pods' among them")
    func permissions() {
        let required = MigrationPermissions.required(namespace: "kube-system")
        #expect(required.count == 22)
        #expect(Set(required).count == 22)
        #expect(Set(NodeAgentRunner.permissions(namespace: "kube-system")).isSubset(of: Set(required)))
        #expect(required.last?.description == "list nodes")
        #expect(required.contains { $0.description == "get pods/log in kube-system" })
        #expect(required.contains { $0.description == "patch daemonsets.apps in kube-system" })
        let log = required.first { $0.subresource == "log" }?.review
        #expect(log?.json[path: ["spec", "resourceAttributes", "resource"]] == "pods")
        #expect(log?.json[path: ["spec", "resourceAttributes", "subresource"]] == "log")
    }

    @Test("a sample keeps five names and counts the rest")
    func sample() {
        var sample = Sample()
        for i in 1...7 { sample.add("svc-\(i)") }
        #expect(sample.listed == "svc-1, svc-2, svc-3, svc-4, svc-5 and 2 more")
    }
}

