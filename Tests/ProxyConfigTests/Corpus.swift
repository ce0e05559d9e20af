import Foundation

/// Hand-written KubeProxyConfiguration variants the editor must rewrite surgically.
enum Corpus {
    static let header = "apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\n"

    /// (name, text); every text is a valid configuration kpswitch must be able to rewrite.
    static let accepted: [(String, String)] = [
        ("minimal", header + "mode: iptables\n"),
        ("double-quoted mode", header + "mode: \"ipvs\"\n"),
        ("single-quoted mode", header + "mode: 'ipvs'\n"),
        ("inline comment", header + "mode: ipvs # switched in 2024\nclusterCIDR: 10.0.0.0/8\n"),
        ("tab before comment", header + "mode: ipvs\t# tab\n"),
        ("mode missing, sorted keys", header.replacingOccurrences(of: "kind", with: "bindAddress: 0.0.0.0\nkind")
            + "metricsBindAddress: \"\"\nnodePortAddresses: null\noomScoreAdj: -999\n"),
        ("mode missing, unsorted keys", "kind: KubeProxyConfiguration\napiVersion: kubeproxy.config.k8s.io/v1alpha1\nclusterCIDR: 10.0.0.0/8\n"),
        ("mode empty", header + "mode:\nclusterCIDR: 10.0.0.0/8\n"),
        ("mode empty with comment", header + "mode: # pick one\nclusterCIDR: 10.0.0.0/8\n"),
        ("mode null", header + "mode: null\n"),
        ("mode tilde", header + "mode: ~\n"),
        ("mode blank quoted", header + "mode: \"\" # blank means iptables\n"),
        ("mode last, no trailing newline", header + "mode: iptables"),
        ("ipvs flow", header + "ipvs: {scheduler: rr, strictARP: false}\nmode: ipvs\n"),
        ("ipvs flow empty", header + "ipvs: {}\nmode: iptables\n"),
        ("ipvs flow other keys", header + "ipvs: {syncPeriod: 30s, minSyncPeriod: 0s}   # tuned\nmode: iptables\n"),
        ("ipvs flow multi-line", header + "ipvs: {\n  syncPeriod: 30s, # sync\n  minSyncPeriod: 0s\n}\nmode: iptables\n"),
        ("ipvs flow trailing comma", header + "ipvs: {syncPeriod: 30s, }\nmode: iptables\n"),
        ("ipvs missing", header + "iptables:\n  masqueradeAll: false\nmode: iptables\nnodePortAddresses: null\n"),
        ("ipvs empty", header + "ipvs:\nmode: iptables\n"),
        ("ipvs null", header + "ipvs: null\nmode: iptables\n"),
        ("ipvs with comments", header + "ipvs:\n  # the scheduler\n  scheduler: \"\"   # default rr\n\n  # ARP\n  strictARP: false\nmode: iptables\n"),
        ("ipvs last block then comment", header + "mode: iptables\nipvs:\n  syncPeriod: 30s\n\n# end of file\n"),
        ("four-space indentation", header + "ipvs:\n    scheduler: rr\n    syncPeriod: 30s\niptables:\n    masqueradeAll: false\nmode: ipvs\n"),
        ("CRLF", (header + "ipvs:\n  scheduler: rr\nmode: iptables # crlf\n").replacingOccurrences(of: "\n", with: "\r\n")),
        ("CR only", (header + "mode: iptables\n").replacingOccurrences(of: "\n", with: "\r")),
        ("document start marker", "---\n" + header + "mode: iptables\n"),
        ("document end marker", header + "mode: iptables\n...\n"),
        ("both markers and comments", "# kube-proxy\n---\n" + header + "mode: iptables\n...\n# trailer\n"),
        ("legacy fields", header + "mode: \"ipvs\"\nresourceContainer: /kube-proxy\nudpIdleTimeout: 250ms\nipvs:\n  scheduler: \"rr\"\n"),
        ("unknown fields", header + "mode: iptables\nfutureField:\n  nested: [1, 2, 3]\n  text: |\n    keep\n    me\n"),
        ("feature gates present", header + "featureGates:\n  SomeGate: true\nmode: iptables\n"),
        ("feature gates flow empty", header + "featureGates: {}\nmode: iptables\n"),
        ("feature gate off", header + "featureGates:\n  NFTablesProxyMode: false # not yet\nmode: iptables\n"),
        ("JSON one line", "{\"apiVersion\": \"kubeproxy.config.k8s.io/v1alpha1\", \"kind\": \"KubeProxyConfiguration\", \"mode\": \"iptables\"}\n"),
        ("JSON pretty", "{\n  \"apiVersion\": \"kubeproxy.config.k8s.io/v1alpha1\",\n  \"kind\": \"KubeProxyConfiguration\",\n  \"ipvs\": {\n    \"syncPeriod\": \"30s\"\n  },\n  \"mode\": \"\"\n}\n"),
        ("quoted keys", "\"apiVersion\": kubeproxy.config.k8s.io/v1alpha1\n\"kind\": KubeProxyConfiguration\n\"mode\": iptables\n"),
        ("strictARP quoted", header + "ipvs:\n  strictARP: \"false\"\nmode: ipvs\n"),
        ("strictARP capitalised", header + "ipvs:\n  strictARP: False\nmode: ipvs\n"),
        ("comment above next key", header + "clusterCIDR: 10.0.0.0/8\n# nftables tuning\nnftables:\n  syncPeriod: 30s\n"),
        ("indented root", "  apiVersion: kubeproxy.config.k8s.io/v1alpha1\n  kind: KubeProxyConfiguration\n  mode: iptables\n"),
        ("byte order mark", "\u{FEFF}" + header + "mode: iptables\n"),
        ("blank lines and header", "# managed by hand\n\n" + header + "\n\nmode: iptables\n\n\n"),
        ("unknown mode value", header + "mode: userspace\n"),
    ]

    /// (name, text) that kpswitch must refuse to rewrite for every target.
    static let refused: [(String, String)] = [
        ("two documents", header + "mode: iptables\n---\n" + header + "mode: ipvs\n"),
        ("tab indentation", header + "ipvs:\n\tscheduler: rr\nmode: iptables\n"),
        ("not kube-proxy", "apiVersion: v1\nkind: Config\nmode: iptables\n"),
        ("kind missing", "apiVersion: kubeproxy.config.k8s.io/v1alpha1\nmode: iptables\n"),
        ("block scalar mode", header + "mode: |\n  userspace\n"),
        ("anchored mode", header + "mode: &m userspace\nother: *m\n"),
        ("multi-line plain mode", header + "mode:\n  ip\n  tables\n"),
        ("unclosed quote", header + "mode: \"iptables\n"),
        ("duplicate keys", header + "mode: iptables\nmode: ipvs\n"),
        ("sequence root", "- mode: iptables\n"),
        ("empty", ""),
    ]
}
