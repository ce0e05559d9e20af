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
            """
    )

    @OptionGroup var global: GlobalOptions

    func run() async throws {
        let advice = try await Advisor.advise(global.clusterAccess)
        Renderer(options: global).render(advice)
    }
}
