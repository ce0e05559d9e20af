import ArgumentParser
import Foundation
import KubeSim

/// `kube-sim`: serves a simulated Kubernetes API for kpswitch's tests, demos and rehearsals.
@main
struct KubeSimCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kube-sim",
        abstract: "Serve a simulated Kubernetes API (HTTPS on 127.0.0.1) that real kubectl accepts.",
        discussion: "The scenario format is documented in Docs/kube-sim-scenarios.md.")

    @Option(help: "Scenario file (YAML).")
    var scenario: String

    @Option(help: "Port to listen on; 0 picks a free one.")
    var port: Int = 0

    @Option(help: "Where to write a kubeconfig for the admin (current context) and the token user.")
    var kubeconfigOut: String?

    func validate() throws {
        guard (0...65535).contains(port) else { throw ValidationError("--port must be between 0 and 65535") }
    }

    func run() async throws {
        let loaded: Scenario
        do {
            loaded = try Scenario(contentsOf: scenario)
        } catch {
            FileHandle.standardError.write(Data("\(error)\n".utf8))
            throw ExitCode(2)
        }
        let started = ContinuousClock.now
        let sim = try await KubeSimServer.start(scenario: loaded, port: port)
        if let kubeconfigOut { try sim.writeKubeconfig(to: kubeconfigOut) }
        FileHandle.standardOutput.write(Data("\(sim.baseURL)\n".utf8))
        let elapsed = ContinuousClock.now - started
        let milliseconds = elapsed.components.seconds * 1000 + elapsed.components.attoseconds / 1_000_000_000_000_000
        FileHandle.standardError.write(Data("kube-sim: serving \(sim.baseURL) (started in \(milliseconds) ms)\(kubeconfigOut.map { ", kubeconfig \($0)" } ?? "")\n".utf8))
        // Serve until SIGINT or SIGTERM; the process exit closes the socket, the netfilter nodes' namespaces are deleted. SIGUSR1 prints the requests served so
        // far (per verb, per "<verb> <resource>", "total") as one JSON line on stderr: Benchmarks/migrate.sh
        // reads it before and after each client's run.
        let sources = [SIGINT, SIGTERM, SIGUSR1].map { signalNumber in
            signal(signalNumber, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: .main)
            source.setEventHandler {
                guard signalNumber == SIGUSR1 else {
                    // The nodes' network namespaces are the host's: they do not end with the process.
                    sim.removeNodeNamespaces()
                    Foundation.exit(0)
                }
                Self.reportRequestCounts(sim.requestCounts)
            }
            source.resume()
            return source
        }
        while !sources.isEmpty {
            try await Task.sleep(for: .seconds(3600))
        }
        try await sim.shutdown()
    }

    private static func reportRequestCounts(_ counts: [String: Int]) {
        let fields = counts.sorted { $0.key < $1.key }.map { "\"\($0.key)\":\($0.value)" }.joined(separator: ",")
        FileHandle.standardError.write(Data("kube-sim: requests {\(fields)}\n".utf8))
    }
}
