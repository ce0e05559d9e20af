import KubeAPI

/// apps/v1 Deployment, read only to recognise add-ons such as MetalLB's controller.
struct Deployment: KubeResource {
    static let resource = APIResource(group: "apps", version: "v1", plural: "deployments", kind: "Deployment", namespaced: true)
    var json: JSONValue
    init(json: JSONValue) { self.json = json }
}

/// apiextensions.k8s.io/v1 CustomResourceDefinition, fetched by name: listing them all would pull every
/// schema in the cluster, often megabytes.
struct CustomResourceDefinition: KubeResource {
    static let resource = APIResource(
        group: "apiextensions.k8s.io", version: "v1", plural: "customresourcedefinitions",
        kind: "CustomResourceDefinition", namespaced: false)
    var json: JSONValue
    init(json: JSONValue) { self.json = json }
}

extension KubeClient {
    /// The object, or nil when the API server answers 404.
    func getIfPresent<R: KubeResource>(_ type: R.Type, name: String, namespace: String? = nil) async throws -> R? {
        do throws(KubeAPIError) {
            return try await get(type, name: name, namespace: namespace)
        } catch where error.kind == .notFound {
            return nil
        }
    }
}
