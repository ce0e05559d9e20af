import IPVS

/// What preflight reads of the node's IPVS table; `LocalIPVS` reads it over generic netlink.
public protocol IPVSReader: Sendable {
    /// The virtual services' keys; throws `IPVSError.unavailable` when the kernel has no IPVS family.
    func serviceKeys() throws -> [IPVSService.Key]
    /// Resolves the IPVS netlink family and reads its version, proving the family is reachable.
    func version() throws -> String
}

/// The node's IPVS, one netlink handle per question (a handle is not safe to share across tasks).
struct LocalIPVS: IPVSReader {
    func serviceKeys() throws -> [IPVSService.Key] {
        try IPVSHandle().services().map(\.key)
    }

    func version() throws -> String {
        try IPVSHandle().info().versionString
    }
}
