import Logging

/// `kpswitch advise`: read the cluster's facts, turn them into advice, and run the cluster checks for the mode
/// it recommends.
public enum Advisor {
    public static func advise(_ access: ClusterAccess, logger: Logger = Logger(label: "kpswitch.advise")) async throws(KPSwitchError) -> Advice {
        try await access.withClient(logger: logger) { client in
            let survey = ClusterSurvey(client: client, namespace: access.namespace)
            let facts = try await ClusterFactsReader(survey: survey).read()
            logger.debug("cluster facts read", metadata: ["services": "\(facts.services)", "endpoints": "\(facts.endpoints)"])
            let recommendation = Advice(facts: facts)
            let checks = ClusterChecks.checks(survey: survey, target: recommendation.recommended)
            let runner = try PreflightRunner(checks: checks, ignoring: [])
            let report = await runner.run(target: recommendation.recommended, host: nil, logger: logger)
            return Advice(facts: facts, compatibility: report.checks)
        }
    }
}
