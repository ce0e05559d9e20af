import KubeAPI

/// One thing the current user must be allowed to do, as a SelfSubjectAccessReview asks it.
public struct Permission: Hashable, Sendable, CustomStringConvertible {
    public let verb: String
    public let group: String
    public let resource: String
    public let subresource: String?
    /// Nil for cluster-scoped resources.
    public let namespace: String?

    public init(_ verb: String, group: String = "", _ resource: String, subresource: String? = nil, namespace: String?) {
        self.verb = verb
        self.group = group
        self.resource = resource
        self.subresource = subresource
        self.namespace = namespace
    }

    /// `update configmaps in kube-system`, `get pods/log in kube-system`, `list nodes`, as kubectl auth can-i names them.
    public var description: String {
        let type = (group.isEmpty ? resource : "\(resource).\(group)") + (subresource.map { "/\($0)" } ?? "")
        return "\(verb) \(type)" + (namespace.map { " in \($0)" } ?? "")
    }

    var review: SelfSubjectAccessReview {
        var review = SelfSubjectAccessReview(verb: verb, group: group, resource: resource, namespace: namespace)
        if let subresource { review.json[path: ["spec", "resourceAttributes", "subresource"]] = .string(subresource) }
        return review
    }
}

/// Everything `kpswitch migrate` (and its rollback) does to the cluster, as RBAC permissions.
public enum MigrationPermissions {
    /// The permissions a migration of the kube-proxy in `namespace` needs, in the order a migration uses them.
    public static func required(namespace: String) -> [Permission] {
        let configMaps = ["get", "list", "create", "update", "patch", "delete"].map { Permission($0, "configmaps", namespace: namespace) }
        // list and watch: a migration waits on a watch of the DaemonSet and of its pods, not on polls.
        let daemonSets = ["get", "list", "watch", "patch", "update"].map { Permission($0, group: "apps", "daemonsets", namespace: namespace) }
        // create and pods/log: preflight's agent pods (NodeAgentRunner.permissions) as well; deletecollection: a
        // batch that is every pod left on the old template is replaced by one request.
        let pods = ["list", "watch", "create", "delete", "deletecollection"].map { Permission($0, "pods", namespace: namespace) }
            + [Permission("get", "pods", subresource: "log", namespace: namespace)]
        let leases = ["get", "create", "update", "delete"].map { Permission($0, group: "coordination.k8s.io", "leases", namespace: namespace) }
        return leases + configMaps + daemonSets + pods + [Permission("list", "nodes", namespace: nil)]
    }

    /// What a migration uses but does without: its milestones as Events on kube-proxy's DaemonSet.
    public static func optional(namespace: String) -> [Permission] {
        [Permission("create", group: "events.k8s.io", "events", namespace: namespace)]
    }

    /// Those of `permissions` (by default the required ones) the current user lacks, one SelfSubjectAccessReview each.
    public static func missing(
        _ client: KubeClient, namespace: String, of permissions: [Permission]? = nil
    ) async throws(KubeAPIError) -> [Permission] {
        var missing: [Permission] = []
        for permission in permissions ?? required(namespace: namespace) {
            // A review only asks; asking again after a 429 or 5xx is safe, and one lost answer must not
            // fail a preflight or a node snapshot.
            let review = permission.review
            if try await !TransientRetry.create({ () async throws(KubeAPIError) in try await client.create(review) }).allowed {
                missing.append(permission)
            }
        }
        return missing
    }
}

/// Every verb a migration will use, asked before it starts: a migration that stops half-way for want of a
/// permission leaves nodes on two modes. Missing permissions are an error naming each one.
struct MigrationRBACCheck: PreflightCheck {
    let name: CheckName = "MigrationRBAC"
    let scope: CheckScope = .cluster
    let client: KubeClient
    let namespace: String

    func run() async -> [Finding] {
        let missing: [Permission]
        let missingOptional: [Permission]
        do {
            missing = try await MigrationPermissions.missing(client, namespace: namespace)
            missingOptional = try await MigrationPermissions.missing(
                client, namespace: namespace, of: MigrationPermissions.optional(namespace: namespace))
        } catch {
            return [.skipped("could not ask the API server what this user may do (SelfSubjectAccessReview): \(error)")]
        }
        let withoutEvents: [Finding] = missingOptional.map { permission in
            .warning(
                "this user may not \(permission): the migration runs, but leaves no Events on kube-proxy's DaemonSet for kubectl events to show",
                subject: "RBAC",
                remediation: "Grant it with a Role in \(namespace) to see the migration's milestones in kubectl events -n \(namespace).")
        }
        let total = MigrationPermissions.required(namespace: namespace).count
        guard !missing.isEmpty else {
            return [.note("this user may do all \(total) things a migration does in \(namespace) (SelfSubjectAccessReview)")] + withoutEvents
        }
        return [.error(
            "this user lacks \(missing.count) of the \(total) permissions a migration needs: \(missing.map(\.description).joined(separator: ", "))",
            subject: "RBAC",
            remediation: "Grant them with a Role and RoleBinding in \(namespace) (and a ClusterRole for nodes), or run as a user who has "
                + "them; check one with kubectl auth can-i VERB RESOURCE -n \(namespace).")] + withoutEvents
    }
}
