/// What went wrong starting or configuring the simulator, with the next step to take.
public enum KubeSimError: Error, CustomStringConvertible, Sendable {
    case scenario(String)
    case certificates(String)
    case server(String)

    public var description: String {
        switch self {
        case .scenario(let message):
            return "kube-sim scenario: \(message). See Docs/kube-sim-scenarios.md for the format."
        case .certificates(let message):
            return "kube-sim could not create its certificates: \(message)."
        case .server(let message):
            return "kube-sim server: \(message)."
        }
    }
}
