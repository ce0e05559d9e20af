/// One intended change to KubeProxyConfiguration: a key path and the value it must hold afterwards.
public struct ConfigEdit: Hashable, Sendable, CustomStringConvertible {
    /// A value kpswitch writes: a string (`mode`, `ipvs.scheduler`) or a boolean (`ipvs.strictARP`, a feature gate).
    public enum Value: Hashable, Sendable, CustomStringConvertible {
        case string(String)
        case bool(Bool)

        public var description: String {
            switch self {
            case .string(let text): text
            case .bool(let flag): flag ? "true" : "false"
            }
        }
    }

    public let path: [String]
    public let value: Value

    public init(path: [String], value: Value) {
        self.path = path
        self.value = value
    }

    /// The dotted key path as the kube-proxy documentation writes it (`ipvs.scheduler`).
    public var key: String { path.joined(separator: ".") }

    public var description: String { "\(key): \(value)" }

    static let modeKey = ["mode"]
    static let schedulerKey = ["ipvs", "scheduler"]
    static let strictARPKey = ["ipvs", "strictARP"]
    static let nftablesGateKey = ["featureGates", "NFTablesProxyMode"]
}
