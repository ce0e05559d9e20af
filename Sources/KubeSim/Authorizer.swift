/// One RBAC PolicyRule, plus the namespaces it is bound in (a RoleBinding); no namespaces means a
/// ClusterRoleBinding.
public struct PolicyRule: Sendable, Equatable {
    public var apiGroups: [String]
    public var resources: [String]
    public var verbs: [String]
    public var resourceNames: [String]
    public var namespaces: [String]
    public var nonResourceURLs: [String]

    public init(
        apiGroups: [String] = [], resources: [String] = [], verbs: [String], resourceNames: [String] = [],
        namespaces: [String] = [], nonResourceURLs: [String] = []
    ) {
        self.apiGroups = apiGroups
        self.resources = resources
        self.verbs = verbs
        self.resourceNames = resourceNames
        self.namespaces = namespaces
        self.nonResourceURLs = nonResourceURLs
    }
}

/// What a request asks to do, in the terms RBAC decides on.
struct RequestAttributes: Sendable {
    var verb: String
    var group: String = ""
    var resource: String = ""
    var subresource: String = ""
    var name: String = ""
    var namespace: String = ""
    var path: String = ""
    var isResourceRequest: Bool
}

/// RBAC for the simulator's users: system:masters may do anything, the token user what the scenario grants,
/// every authenticated user may read discovery (system:discovery), anyone may read /version and health
/// (system:public-info-viewer).
struct Authorizer: Sendable {
    let rulesByUser: [String: [PolicyRule]]

    static let publicPaths: Set<String> = ["/version", "/version/", "/healthz", "/livez", "/readyz"]

    func allows(_ user: UserInfo, _ attributes: RequestAttributes) -> Bool {
        if user.groups.contains(SimulatorPKI.adminGroup) { return true }
        if !attributes.isResourceRequest {
            if Authorizer.publicPaths.contains(attributes.path) { return true }
            if user.groups.contains("system:authenticated"), attributes.verb == "get",
                Authorizer.isDiscoveryPath(attributes.path)
            {
                return true
            }
        }
        // Every authenticated user may ask what it may do (system:basic-user).
        if user.groups.contains("system:authenticated"), attributes.group == "authorization.k8s.io",
            ["selfsubjectaccessreviews", "selfsubjectrulesreviews"].contains(attributes.resource),
            attributes.verb == "create"
        {
            return true
        }
        return (rulesByUser[user.name] ?? []).contains { Authorizer.rule($0, allows: attributes) }
    }

    static func isDiscoveryPath(_ path: String) -> Bool {
        path == "/api" || path == "/apis" || path.hasPrefix("/api/") || path.hasPrefix("/apis/")
            || path.hasPrefix("/openapi")
    }

    static func rule(_ rule: PolicyRule, allows a: RequestAttributes) -> Bool {
        guard rule.verbs.contains("*") || rule.verbs.contains(a.verb) else { return false }
        if !a.isResourceRequest {
            return rule.nonResourceURLs.contains {
                $0 == "*" || $0 == a.path || ($0.hasSuffix("*") && a.path.hasPrefix(String($0.dropLast())))
            }
        }
        guard rule.apiGroups.contains("*") || rule.apiGroups.contains(a.group) else { return false }
        let combined = a.subresource.isEmpty ? a.resource : "\(a.resource)/\(a.subresource)"
        guard rule.resources.contains("*") || rule.resources.contains(combined)
            || (a.subresource.isEmpty == false && rule.resources.contains("\(a.resource)/*"))
            || (a.subresource.isEmpty && rule.resources.contains(a.resource))
        else { return false }
        if !rule.resourceNames.isEmpty, !rule.resourceNames.contains(a.name) { return false }
        if !rule.namespaces.isEmpty, !rule.namespaces.contains(a.namespace) { return false }
        return true
    }

    /// The rules SelfSubjectRulesReview reports for `user` in `namespace`.
    func rules(for user: UserInfo, namespace: String) -> [PolicyRule] {
        if user.groups.contains(SimulatorPKI.adminGroup) {
            return [PolicyRule(apiGroups: ["*"], resources: ["*"], verbs: ["*"]),
                    PolicyRule(verbs: ["*"], nonResourceURLs: ["*"])]
        }
        var rules = (rulesByUser[user.name] ?? []).filter { $0.namespaces.isEmpty || $0.namespaces.contains(namespace) }
        rules.append(PolicyRule(apiGroups: ["authorization.k8s.io"],
                                resources: ["selfsubjectaccessreviews", "selfsubjectrulesreviews"], verbs: ["create"]))
        rules.append(PolicyRule(verbs: ["get"], nonResourceURLs: ["/api", "/api/*", "/apis", "/apis/*", "/healthz", "/livez", "/openapi", "/openapi/*", "/readyz", "/version", "/version/"]))
        return rules
    }
}
