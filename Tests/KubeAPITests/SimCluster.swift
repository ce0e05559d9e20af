import Foundation
import KubeSim
import Logging
import Synchronization

@testable import KubeAPI

/// A KubeSim server over HTTPS and a kubeconfig for it, torn down by `finish()`.
struct SimCluster {
    let sim: KubeSimServer
    let directory: String
    let kubeconfigPath: String

    static func start(_ scenario: Scenario = Scenario()) async throws -> SimCluster {
        let sim = try await KubeSimServer.start(scenario: scenario)
        let directory = try Fixtures.scratchDirectory()
        let path = directory + "/config"
        try sim.writeKubeconfig(to: path)
        return SimCluster(sim: sim, directory: directory, kubeconfigPath: path)
    }

    /// A client for `context` with fast retries, so tests of retry rules do not sleep long.
    func client(
        context: String? = nil, kubeconfig: String? = nil, timeout: Duration = .seconds(20),
        now: @escaping @Sendable () -> Date = { Date() }
    ) throws -> KubeClient {
        let config = try KubeConfig.load(kubeconfig: kubeconfig ?? kubeconfigPath, context: context, environment: [:])
        var policy = RetryPolicy()
        policy.baseDelay = .milliseconds(5)
        return KubeClient(config: config, timeout: timeout, logger: Logger(label: "test"), retryPolicy: policy, now: now)
    }

    func finish(_ clients: KubeClient...) async throws {
        for client in clients { try await client.shutdown() }
        try await sim.shutdown()
    }

    /// The base64 of a PEM string, as kubeconfig `-data` fields hold it.
    static func base64(_ pem: String) -> String { Data(pem.utf8).base64EncodedString() }
}

/// A clock tests move forward, so credential expiry is checked without sleeping.
final class TestClock: Sendable {
    private let offset = Mutex<TimeInterval>(0)

    func advance(by seconds: TimeInterval) { offset.withLock { $0 += seconds } }

    var now: @Sendable () -> Date { { [self] in Date().addingTimeInterval(self.offset.withLock { $0 }) } }
}
