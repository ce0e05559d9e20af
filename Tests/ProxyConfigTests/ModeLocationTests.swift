import Testing

@testable import ProxyConfig

@Suite("ModeLocation")
struct ModeLocationTests {
    typealias Objects = KubeProxyObjects

    static func daemonSet(command: [String]? = nil, args: [String]? = nil, mounts: [Objects.Container.VolumeMount] = [],
                          volumes: [Objects.Volume] = []) -> Objects.DaemonSet {
        Objects.DaemonSet(metadata: Objects.ObjectMeta(name: "kube-proxy"),
                          podSpec: Objects.PodSpec(containers: [Objects.Container(name: "kube-proxy", command: command, args: args,
                                                                                  volumeMounts: mounts)], volumes: volumes))
    }

    @Test("--config with a space, in args, through volume items")
    func configInArgsWithItems() throws {
        let location = try ModeLocation.locate(in: Self.daemonSet(
            command: ["kube-proxy"], args: ["--config", "/etc/kp/proxy.yaml"],
            mounts: [.init(name: "cfg", mountPath: "/etc/kp")],
            volumes: [Objects.Volume(name: "cfg", configMap: .init(name: "kp", items: [.init(key: "kube-proxy.yaml", path: "proxy.yaml")]))]))
        #expect(location.source == .configMap(name: "kp", key: "kube-proxy.yaml", volume: "cfg", configPath: "/etc/kp/proxy.yaml"))
    }

    @Test("--config on a subPath mount")
    func subPath() throws {
        let location = try ModeLocation.locate(in: Self.daemonSet(
            command: ["/usr/local/bin/kube-proxy", "--config=/conf/config.conf"],
            mounts: [.init(name: "cfg", mountPath: "/conf/config.conf", subPath: "config.conf")],
            volumes: [Objects.Volume(name: "cfg", configMap: .init(name: "kube-proxy"))]))
        #expect(location.source == .configMap(name: "kube-proxy", key: "config.conf", volume: "cfg", configPath: "/conf/config.conf"))
    }

    @Test("sh -c command strings are split")
    func shellString() throws {
        let location = try ModeLocation.locate(in: Self.daemonSet(
            command: ["/bin/sh", "-c", "kube-proxy --v=2 --config=/var/lib/kube-proxy-config/config --hostname-override=$(NODE_NAME)"],
            mounts: [.init(name: "config", mountPath: "/var/lib/kube-proxy-config/")],
            volumes: [Objects.Volume(name: "config", configMap: .init(name: "kube-proxy-config"))]))
        #expect(location.source == .configMap(name: "kube-proxy-config", key: "config", volume: "config",
                                              configPath: "/var/lib/kube-proxy-config/config"))
    }

    @Test("without --config the flag decides", arguments: [
        (["kube-proxy", "--proxy-mode=ipvs"], "ipvs" as String?), (["kube-proxy", "--proxy-mode", "iptables"], "iptables"),
        (["kube-proxy", "--v=2"], nil),
    ])
    func flags(command: [String], value: String?) throws {
        #expect(try ModeLocation.locate(in: Self.daemonSet(command: command)).source == .flag(value: value))
    }

    @Test("a hostPath config is refused")
    func hostPath() throws {
        let error = try #require(throws: ProxyConfigError.self) {
            try ModeLocation.locate(in: Self.daemonSet(
                command: ["kube-proxy", "--config=/var/lib/kube-proxy/config"], mounts: [.init(name: "host", mountPath: "/var/lib/kube-proxy")],
                volumes: [Objects.Volume(name: "host", hostPath: "/var/lib/kube-proxy")]))
        }
        #expect(error.kind == .unsupportedLayout)
    }

    @Test("--config pointing outside every mount is refused")
    func unmounted() throws {
        let error = try #require(throws: ProxyConfigError.self) {
            try ModeLocation.locate(in: Self.daemonSet(command: ["kube-proxy", "--config=/etc/kube-proxy.yaml"]))
        }
        #expect(error.kind == .notFound)
    }

    static let v134 = KubernetesVersion(major: 1, minor: 34)

    @Test("setting --proxy-mode in args", arguments: [
        (["--v=2", "--proxy-mode=iptables"], ["--v=2", "--proxy-mode=ipvs"]),
        (["--proxy-mode", "iptables", "--v=2"], ["--proxy-mode", "ipvs", "--v=2"]),
        (["--v=2"], ["--v=2", "--proxy-mode=ipvs"]),
    ])
    func settingFlag(args: [String], expected: [String]) throws {
        #expect(try ModeLocation.args(args, to: ProxyTarget(mode: .ipvs), version: Self.v134) == expected)
    }

    @Test("IPVS options become flags")
    func ipvsFlags() throws {
        let target = try ProxyTarget(mode: .ipvs, ipvsScheduler: "lc", ipvsStrictARP: true)
        #expect(try ModeLocation.args(["--ipvs-scheduler=rr"], to: target, version: Self.v134)
            == ["--ipvs-scheduler=lc", "--proxy-mode=ipvs", "--ipvs-strict-arp=true"])
    }

    @Test("nftables on 1.30 merges the feature gate into --feature-gates")
    func featureGateFlag() throws {
        let args = try ModeLocation.args(["--feature-gates=Foo=true,NFTablesProxyMode=false"], to: ProxyTarget(mode: .nftables),
                                         version: KubernetesVersion(major: 1, minor: 30))
        #expect(args == ["--feature-gates=Foo=true,NFTablesProxyMode=true", "--proxy-mode=nftables"])
        #expect(throws: ProxyConfigError.self) {
            try ModeLocation.args([], to: ProxyTarget(mode: .nftables), version: KubernetesVersion(major: 1, minor: 28))
        }
    }
}
