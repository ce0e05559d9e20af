/// What flavour detection found: the flavour, the evidence, where the mode lives, and what blocks migration.
public struct FlavourReport: Sendable {
    public let flavour: KubeProxyFlavour
    /// Facts that decided the flavour, for `-v` output and bug reports.
    public let evidence: [String]
    /// The DaemonSet's mode location, when the flavour is migratable and the mode was found.
    public let location: ModeLocation?
    public let warnings: [ProxyConfigWarning]
    /// Why kpswitch must not migrate this cluster (preflight turns it into an error, exit 3); nil when it may.
    public let blocker: ProxyConfigError?
}
