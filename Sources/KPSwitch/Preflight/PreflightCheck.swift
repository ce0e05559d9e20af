/// A preflight check: a small value holding its inputs, whose `run` returns findings. It never prints,
/// exits or changes the node or the cluster (probes that the kernel rolls back, such as nft's dry run,
/// are allowed).
public protocol PreflightCheck: Sendable {
    var name: CheckName { get }
    var scope: CheckScope { get }
    func run() async -> [Finding]
}
