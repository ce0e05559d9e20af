import Logging

/// `kpswitch advise`: read the cluster's facts and turn them into advice.
public enum Advisor {
    public static func advise(_ access: ClusterAccess, logger: Logger = Logger(label: "kpswitch.advise")) async throws(KPSwitchError) -> Advice {
        try await access.withClient(logger: logger) { client in
            let facts = try await ClusterFactsReader(client: client, namespace: access.namespace).read()
            logger.debug("cluster facts read", metadata: ["services": "\(facts.services)", "endpoints": "\(facts.endpoints)"])
            return Advice(facts: facts)
        }
    }
}
