import ArgumentParser
import KPSwitch

struct Advise: AsyncParsableCommand, GlobalOptionsCommand {
    static let configuration = CommandConfiguration(
        abstract: "Recommend a proxy mode for this cluster, with the numbers behind it; changes nothing.",
        discussion: """
            Reads the cluster's scale (services, endpoints per service), node kernels and the \
            Kubernetes version, then recommends iptables, nftables or (with its deprecation timeline) \
            IPVS, and what switching would cost: the cleanup each mode pair needs and the expected \
            disruption.

            Examples:
              kpswitch advise
              kpswitch advise --context prod -o json
              kpswitch advise --all-contexts
            """
    )

    @OptionGroup var global: GlobalOptions
    @OptionGroup var fleet: FleetOptions

    func validate() throws { try fleet.validate(global) }

    func run() async throws {
        if fleet.allContexts {
            let report = try await FleetSurvey.survey(global.clusterAccess, timeout: fleet.timeout)
            return Renderer(options: global).render(report)
        }
        let advice = try await Advisor.advise(global.clusterAccess)
        Renderer(options: global).render(advice)
    }
}
