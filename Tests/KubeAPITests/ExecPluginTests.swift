import Foundation
import KubeSim
import Testing

@testable import KubeAPI

@Suite("exec credential plugins against KubeSim", .serialized)
struct ExecPluginTests {
    /// A plugin that counts its runs, records its KUBERNETES_EXEC_INFO, answers with a wrong token on its first run
    /// (so the server says 401) and the right one after, each valid for ten minutes.
    static let script = """
        #!/bin/sh
        n=$(cat "$COUNTER" 2>/dev/null || echo 0)
        n=$((n + 1))
        echo "$n" > "$COUNTER"
        printf '%s' "$KUBERNETES_EXEC_INFO" > "$COUNTER.info"
        if [ "$n" = 1 ]; then token=wrong-token; else token="$GOOD_TOKEN"; fi
        expiry=$(date -u -d "+10 minutes" +%Y-%m-%dT%H:%M:%SZ)
        printf '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"%s","expirationTimestamp":"%s"}}\\n' "$token" "$expiry"
        """

    static func runs(_ counter: String) throws -> Int {
        Int(try String(contentsOfFile: counter, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)) ?? -1
    }

    @Test("re-run after a 401, cached until expiry, re-run after it")
    func refresh() async throws {
        let scenario = Scenario(tokenUser: .init(rules: [PolicyRule(apiGroups: [""], resources: ["configmaps"], verbs: ["get", "list"])]))
        let cluster = try await SimCluster.start(scenario)
        let dir = cluster.directory
        try Fixtures.write(Self.script, to: dir + "/plugin.sh", mode: 0o755)
        let counter = dir + "/runs"
        try Fixtures.write(
            """
            apiVersion: v1
            kind: Config
            current-context: exec
            clusters:
            - name: sim
              cluster:
                server: \(cluster.sim.baseURL)
                certificate-authority-data: \(SimCluster.base64(cluster.sim.caPEM))
            users:
            - name: plugin-user
              user:
                exec:
                  apiVersion: client.authentication.k8s.io/v1
                  command: ./plugin.sh
                  interactiveMode: Never
                  provideClusterInfo: true
                  env:
                  - {name: COUNTER, value: "\(counter)"}
                  - {name: GOOD_TOKEN, value: "\(cluster.sim.token)"}
            contexts:
            - name: exec
              context: {cluster: sim, user: plugin-user}
            """, to: dir + "/exec-config")
        let clock = TestClock()
        let client = try cluster.client(kubeconfig: dir + "/exec-config", now: clock.now)
        do {
            _ = try await client.list(ConfigMap.self, namespace: "kube-system")
            #expect(try Self.runs(counter) == 2, "first token refused with 401, plugin run again")
            _ = try await client.list(ConfigMap.self, namespace: "kube-system")
            #expect(try Self.runs(counter) == 2, "cached while not expired")

            let info = try JSON.decode(Array(try Data(contentsOf: URL(fileURLWithPath: counter + ".info"))))
            #expect(info["apiVersion"] == "client.authentication.k8s.io/v1")
            #expect(info[path: ["spec", "interactive"]] == false)
            #expect(info[path: ["spec", "cluster", "server"]] == .string(cluster.sim.baseURL))

            clock.advance(by: 9 * 60)
            _ = try await client.list(ConfigMap.self, namespace: "kube-system")
            #expect(try Self.runs(counter) == 2, "still cached a minute before expiry")
            clock.advance(by: 2 * 60)
            _ = try await client.list(ConfigMap.self, namespace: "kube-system")
            #expect(try Self.runs(counter) == 3, "expired credential replaced")
        } catch {
            try await cluster.finish(client)
            throw error
        }
        try await cluster.finish(client)
    }

    @Test("a plugin returning a client certificate: requests present it (a new TLS configuration per credential)")
    func certificateCredential() async throws {
        let cluster = try await SimCluster.start()
        let dir = cluster.directory
        let reply: JSON = [
            "apiVersion": "client.authentication.k8s.io/v1beta1", "kind": "ExecCredential",
            "status": [
                "clientCertificateData": .string(cluster.sim.adminCertificatePEM),
                "clientKeyData": .string(cluster.sim.adminKeyPEM),
            ],
        ]
        try reply.encoded().write(to: URL(fileURLWithPath: dir + "/credential.json"))
        try Fixtures.write("#!/bin/sh\ncat \"$(dirname \"$0\")/credential.json\"\n", to: dir + "/cert-plugin.sh", mode: 0o755)
        try Fixtures.write(
            """
            current-context: exec
            clusters:
            - name: sim
              cluster:
                server: \(cluster.sim.baseURL)
                certificate-authority-data: \(SimCluster.base64(cluster.sim.caPEM))
            users:
            - name: plugin-user
              user:
                exec: {apiVersion: client.authentication.k8s.io/v1beta1, command: ./cert-plugin.sh}
            contexts:
            - name: exec
              context: {cluster: sim, user: plugin-user}
            """, to: dir + "/cert-config")
        let client = try cluster.client(kubeconfig: dir + "/cert-config")
        do {
            // Only the admin (the certificate's user) may patch DaemonSets cluster-wide.
            let review = try await client.create(
                SelfSubjectAccessReview(verb: "patch", group: "apps", resource: "daemonsets", namespace: "kube-system"))
            #expect(review.allowed)
        } catch {
            try await cluster.finish(client)
            throw error
        }
        try await cluster.finish(client)
    }

    @Test("a plugin that fails or prints garbage gives a credential-plugin error without its output")
    func failingPlugin() async throws {
        let dir = try Fixtures.scratchDirectory()
        let base = ExecPluginConfig(
            command: dir + "/bad.sh", args: [], env: [], apiVersion: "client.authentication.k8s.io/v1",
            interactiveMode: .never, installHint: "Install bad.sh from the team wiki.", provideClusterInfo: false,
            clusterInfo: [:], file: dir + "/config")
        try Fixtures.write("#!/bin/sh\necho 'super-secret-output'\nexit 3\n", to: dir + "/bad.sh", mode: 0o755)
        let failed = await #expect(throws: KubeAPIError.self) { try await ExecPlugin.run(base) }
        #expect(failed?.kind == .credentialPlugin)
        #expect(failed?.description.contains("super-secret") == false)

        try Fixtures.write("#!/bin/sh\necho 'super-secret-output'\n", to: dir + "/bad.sh", mode: 0o755)
        let garbage = await #expect(throws: KubeAPIError.self) { try await ExecPlugin.run(base) }
        #expect(garbage?.description.contains("not an ExecCredential") == true)
        #expect(garbage?.description.contains("super-secret") == false)

        var missing = base
        missing.command = dir + "/absent"
        let absent = await #expect(throws: KubeAPIError.self) { try await ExecPlugin.run(missing) }
        #expect(absent?.description.contains("team wiki") == true)

        var always = base
        always.interactiveMode = .always
        let noTTY = await #expect(throws: KubeAPIError.self) { try await ExecPlugin.run(always, stdinIsTerminal: false) }
        #expect(noTTY?.description.contains("interactive") == true)
    }

    @Test("reply parsing: version must match, cert and key come together, expiry is RFC 3339")
    func parsing() throws {
        let config = ExecPluginConfig(
            command: "p", args: [], env: [], apiVersion: "client.authentication.k8s.io/v1beta1", interactiveMode: .never,
            installHint: nil, provideClusterInfo: false, clusterInfo: [:], file: "f")
        let ok = try ExecPlugin.parse(
            #"{"apiVersion":"client.authentication.k8s.io/v1beta1","status":{"token":"t","expirationTimestamp":"2030-01-02T03:04:05.123456Z"}}"#,
            config: config)
        #expect(ok.token == "t")
        #expect(ok.expiry != nil)
        #expect(throws: KubeAPIError.self) {
            try ExecPlugin.parse(#"{"apiVersion":"client.authentication.k8s.io/v1","status":{"token":"t"}}"#, config: config)
        }
        #expect(throws: KubeAPIError.self) {
            try ExecPlugin.parse(
                #"{"apiVersion":"client.authentication.k8s.io/v1beta1","status":{"clientCertificateData":"x"}}"#, config: config)
        }
        let noExpiry = try ExecPlugin.parse(#"{"apiVersion":"client.authentication.k8s.io/v1beta1","status":{"token":"t"}}"#, config: config)
        #expect(noExpiry.expiry == nil)
    }
}
