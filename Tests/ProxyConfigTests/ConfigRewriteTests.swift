import Testing
import Yams

@testable import ProxyConfig

@Suite("ConfigRewrite")
struct ConfigRewriteTests {
    /// Targets every corpus entry is rewritten to, with the cluster version that decides the gate.
    static let targets: [(String, ProxyTarget, KubernetesVersion)] = {
        do {
            return [
                ("iptables", try ProxyTarget(mode: .iptables), KubernetesVersion(major: 1, minor: 34)),
                ("ipvs lc strictARP", try ProxyTarget(mode: .ipvs, ipvsScheduler: "lc", ipvsStrictARP: true), KubernetesVersion(major: 1, minor: 34)),
                ("nftables on 1.30", try ProxyTarget(mode: .nftables), KubernetesVersion(major: 1, minor: 30)),
                ("nftables on 1.33", try ProxyTarget(mode: .nftables), KubernetesVersion(major: 1, minor: 33)),
            ]
        } catch {
            Issue.record(error)
            return []
        }
    }()

    static let corpusNames = Corpus.accepted.map(\.0)

    @Test("every corpus variant rewrites surgically, round-trips and is idempotent", arguments: corpusNames)
    func corpus(name: String) throws {
        let text = try #require(Corpus.accepted.first { $0.0 == name }?.1)
        for (targetName, target, version) in Self.targets {
            let summary = try KubeProxyConfigurationSummary(parsing: text)
            let edits = try target.edits(for: version, current: summary)
            let rewrite: ConfigRewrite
            do {
                rewrite = try ConfigRewrite(of: text, to: target, version: version)
            } catch {
                Issue.record("\(name) → \(targetName): \(error)")
                continue
            }
            try Support.verify(rewrite, edits: edits)
            let after = try KubeProxyConfigurationSummary(parsing: rewrite.text)
            #expect(after.effectiveMode == target.mode, "\(name) → \(targetName)")
        }
    }

    @Test("refused variants throw and produce no text", arguments: Corpus.refused.map(\.0))
    func refused(name: String) throws {
        let text = try #require(Corpus.refused.first { $0.0 == name }?.1)
        for (_, target, version) in Self.targets {
            #expect(throws: ProxyConfigError.self) { try ConfigRewrite(of: text, to: target, version: version) }
        }
    }

    @Test("kubeadm fixture: only the mode line changes, comments and the rest stay byte for byte")
    func kubeadmFixture() throws {
        let text = try Support.configText(fixture: "kubeadm-v1.34-kube-proxy-configmap.yaml", key: "config.conf")
        let rewrite = try ConfigRewrite(of: text, to: ProxyTarget(mode: .ipvs), version: KubernetesVersion(major: 1, minor: 34))
        #expect(rewrite.text == text.replacingOccurrences(of: "\nmode: \"\"\n", with: "\nmode: \"ipvs\"\n"))
        try Support.verify(rewrite, edits: [ConfigEdit(path: ["mode"], value: .string("ipvs"))])
    }

    @Test("kubeadm fixture to nftables on 1.30 inserts the feature gate in sorted position")
    func kubeadmFeatureGate() throws {
        let text = try Support.configText(fixture: "kubeadm-v1.34-kube-proxy-configmap.yaml", key: "config.conf")
        let rewrite = try ConfigRewrite(of: text, to: ProxyTarget(mode: .nftables), version: KubernetesVersion(major: 1, minor: 30))
        #expect(rewrite.text.contains("enableProfiling: false\nfeatureGates:\n  NFTablesProxyMode: true\nhealthzBindAddress: \"\"\n"))
        #expect(rewrite.applied.map(\.key) == ["mode", "featureGates.NFTablesProxyMode"])
    }

    @Test("EKS fixture keeps its quoting, legacy udpIdleTimeout and scheduler")
    func eksFixture() throws {
        let text = try Support.configText(fixture: "eks-kube-proxy-config.yaml", key: "config")
        let rewrite = try ConfigRewrite(of: text, to: ProxyTarget(mode: .iptables), version: KubernetesVersion(major: 1, minor: 31))
        #expect(rewrite.text == text.replacingOccurrences(of: "mode: \"ipvs\"", with: "mode: \"iptables\""))
        #expect(rewrite.text.contains("udpIdleTimeout: 250ms"))
        let scheduler = try ConfigRewrite(of: text, to: ProxyTarget(mode: .ipvs, ipvsScheduler: "wrr"), version: KubernetesVersion(major: 1, minor: 31))
        #expect(scheduler.text == text.replacingOccurrences(of: "scheduler: \"rr\"", with: "scheduler: \"wrr\""))
    }

    @Test("the same mode is no change at all")
    func unchanged() throws {
        let text = Corpus.header + "mode: 'ipvs' # keep\n"
        let rewrite = try ConfigRewrite(of: text, to: ProxyTarget(mode: .ipvs), version: KubernetesVersion(major: 1, minor: 34))
        #expect(!rewrite.changesText)
        #expect(rewrite.applied.isEmpty)
    }

    @Test("exact texts for insertion and replacement shapes", arguments: [
        (Corpus.header + "ipvs: {scheduler: rr}\nmode: ipvs\n", ["ipvs", "scheduler"], "lc",
         Corpus.header + "ipvs: {scheduler: lc}\nmode: ipvs\n"),
        (Corpus.header + "ipvs: {syncPeriod: 30s}\n", ["ipvs", "scheduler"], "lc",
         Corpus.header + "ipvs: {syncPeriod: 30s, scheduler: lc}\n"),
        (Corpus.header + "ipvs: {}\n", ["ipvs", "scheduler"], "lc", Corpus.header + "ipvs: {scheduler: lc}\n"),
        (Corpus.header + "ipvs:\n", ["ipvs", "scheduler"], "lc", Corpus.header + "ipvs: {scheduler: lc}\n"),
        (Corpus.header + "mode:\n", ["mode"], "ipvs", Corpus.header + "mode: ipvs\n"),
        (Corpus.header + "mode: # c\n", ["mode"], "ipvs", Corpus.header + "mode: ipvs # c\n"),
        (Corpus.header + "mode: ~\n", ["mode"], "ipvs", Corpus.header + "mode: ipvs\n"),
        (Corpus.header + "clusterCIDR: x\n# n\nnftables: {}\n", ["mode"], "ipvs",
         Corpus.header + "clusterCIDR: x\nmode: ipvs\n# n\nnftables: {}\n"),
        (Corpus.header + "iptables:\n    masqueradeAll: false\n", ["ipvs", "scheduler"], "sh",
         Corpus.header + "iptables:\n    masqueradeAll: false\nipvs:\n    scheduler: sh\n"),
        ("a: 1\r\napiVersion: kubeproxy.config.k8s.io/v1alpha1\r\nkind: KubeProxyConfiguration\r\n", ["mode"], "ipvs",
         "a: 1\r\napiVersion: kubeproxy.config.k8s.io/v1alpha1\r\nkind: KubeProxyConfiguration\r\nmode: ipvs\r\n"),
        ("{\"apiVersion\": \"kubeproxy.config.k8s.io/v1alpha1\", \"kind\": \"KubeProxyConfiguration\"}", ["ipvs", "scheduler"], "rr",
         "{\"apiVersion\": \"kubeproxy.config.k8s.io/v1alpha1\", \"kind\": \"KubeProxyConfiguration\", \"ipvs\": {\"scheduler\": \"rr\"}}"),
    ])
    func exact(input: String, path: [String], value: String, expected: String) throws {
        let rewrite = try ConfigRewrite(of: input, applying: [ConfigEdit(path: path, value: .string(value))])
        #expect(rewrite.text == expected)
    }

    @Test("a rewrite that would change another key is refused by the proof")
    func proofRefusesAliasedMapping() throws {
        // ipvs is an alias of the nftables mapping: editing its scheduler would edit both.
        let text = Corpus.header + "nftables: &shared {syncPeriod: 30s, scheduler: rr}\nipvs: *shared\n"
        let error = try #require(throws: ProxyConfigError.self) {
            try ConfigRewrite(of: text, applying: [ConfigEdit(path: ["ipvs", "scheduler"], value: .string("lc"))])
        }
        #expect(error.kind == .proofFailed || error.kind == .unsupportedLayout)
    }

    @Test("errors name the line and the next step")
    func errorDescription() throws {
        let error = try #require(throws: ProxyConfigError.self) {
            try ConfigRewrite(of: Corpus.header + "mode: |\n  userspace\n", applying: [ConfigEdit(path: ["mode"], value: .string("ipvs"))])
        }
        #expect(error.line == 3)
        #expect(error.description.hasPrefix("line 3: the value of mode is a block scalar"))
        #expect(error.description.contains("nothing was written"))
    }

    @Test("Yams marks point at the opening quote of quoted scalars and after the colon of empty ones")
    func yamsMarks() throws {
        let text = "a: \"x\"\nb: 'y'\nc: z\nd:\ne: {f: g}\n"
        let root = try #require(try Yams.compose(yaml: text))
        #expect(root["a"]?.mark.map { "\($0)" } == "1:4")
        #expect(root["b"]?.mark.map { "\($0)" } == "2:4")
        #expect(root["c"]?.mark.map { "\($0)" } == "3:4")
        #expect(root["d"]?.mark.map { "\($0)" } == "4:3")
        #expect(root["e"]?["f"]?.mark.map { "\($0)" } == "5:8")
    }
}
