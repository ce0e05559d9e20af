import NodeState

/// The one place the CLI gets real adapters from, so commands never construct kernel or API clients.
public enum Adapters {
    /// The node kpswitch runs on.
    public static func localNode() -> any NodeInspector { LocalNode() }

    /// The IPVS table of the node kpswitch runs on, over generic netlink.
    public static func localIPVS() -> any IPVSReader { LocalIPVS() }
}
