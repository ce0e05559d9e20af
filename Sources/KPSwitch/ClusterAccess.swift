import KubeAPI
import Logging

/// How kpswitch reaches the cluster: the global options, resolved the way kubectl resolves them.
public struct ClusterAccess: Sendable {
    public let kubeconfig: String?
    public let context: String?
    /// kube-proxy's namespace (`-n`, default kube-system).
    public let namespace: String
    /// The limit for each API request (`--request-timeout`): a hung API server answers nothing, and this is
    /// how long a request waits before kpswitch counts the server as unreachable.
    public let requestTimeout: Duration

    public init(kubeconfig: String?, context: String?, namespace: String, requestTimeout: Duration = .seconds(30)) {
        self.kubeconfig = kubeconfig
        self.context = context
        self.namespace = namespace
        self.requestTimeout = requestTimeout
    }

    /// Runs `body` with a client and shuts it down afterwards, whatever `body` does; API and kubeconfig
    /// failures become `KPSwitchError`s with the contract's exit status.
    func withClient<T: Sendable>(
        logger: Logger, _ body: @Sendable (KubeClient) async throws -> T
    ) async throws(KPSwitchError) -> T {
        let client: KubeClient
        do {
            client = KubeClient(
                config: try KubeConfig.load(kubeconfig: kubeconfig, context: context), timeout: requestTimeout, logger: logger)
        } catch {
            throw KPSwitchError(error)
        }
        let result: Result<T, any Error>
        do {
            result = .success(try await body(client))
        } catch {
            result = .failure(error)
        }
        // A failure to close idle connections changes nothing in the cluster and nothing the user can act on.
        try? await client.shutdown()
        do {
            return try result.get()
        } catch {
            throw KPSwitchError(error)
        }
    }
}

extension KPSwitchError {
    /// Any failure reaching the cluster, with its exit status: a bad kubeconfig is invalid input (2).
    init(_ error: any Error) {
        if let error = error as? KPSwitchError {
            self = error
        } else if let error = error as? KubeAPIError {
            self.init(status: error.isInvalidInput ? .usageError : .runtimeError, message: error.description)
        } else {
            self.init(status: .runtimeError, message: String(describing: error))
        }
    }
}
