import Foundation
import Testing

@testable import KubeAPI

@Suite("Status decoding and typed errors")
struct StatusTests {
    @Test(
        "reason decides the kind, the HTTP code when the reason is unknown",
        arguments: [
            ("NotFound", 404, KubeAPIError.Kind.notFound), ("Conflict", 409, .conflict), ("AlreadyExists", 409, .alreadyExists),
            ("Forbidden", 403, .forbidden), ("Unauthorized", 401, .unauthorized), ("TooManyRequests", 429, .tooManyRequests),
            ("Expired", 410, .gone), ("Gone", 410, .gone), ("Invalid", 422, .invalid), ("InternalError", 500, .serverError),
            ("ServiceUnavailable", 503, .serviceUnavailable), ("", 404, .notFound), ("SomethingNew", 409, .conflict),
            ("", 502, .serverError), ("", 418, .unexpectedResponse),
        ])
    func kinds(_ reason: String, _ code: Int, _ kind: KubeAPIError.Kind) {
        #expect(KubeAPIError.kind(reason: reason.isEmpty ? nil : reason, code: code) == kind)
    }

    @Test("a Forbidden Status names the verb and the resource")
    func forbidden() throws {
        let body = """
            {"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"daemonsets.apps \\"kube-proxy\\" is forbidden: User \\"bob\\" cannot patch resource \\"daemonsets\\" in API group \\"apps\\" in the namespace \\"kube-system\\"","reason":"Forbidden","details":{"name":"kube-proxy","group":"apps","kind":"daemonsets"},"code":403}
            """
        let status = try JSONDecoder().decode(Status.self, from: Data(body.utf8))
        #expect(status.details?.group == "apps")
        let error = KubeAPIError.api(
            status: status, code: 403, verb: "patch",
            resource: ResourceRef(DaemonSet.resource, namespace: "kube-system", name: "kube-proxy"))
        #expect(error.kind == .forbidden)
        #expect(error.code == 403)
        #expect(error.description.hasPrefix("forbidden to patch daemonsets.apps kube-system/kube-proxy"))
        #expect(error.description.contains("RBAC permission to patch daemonsets.apps in namespace kube-system"))
        #expect(!error.isInvalidInput)
    }

    @Test("Invalid lists the causes by field")
    func invalidCauses() {
        let status = Status(
            message: "ConfigMap \"x\" is invalid", reason: "Invalid",
            details: .init(causes: [.init(reason: "FieldValueInvalid", message: "must be no more than 253 characters", field: "metadata.name")]),
            code: 422)
        let error = KubeAPIError.api(
            status: status, code: 422, verb: "create", resource: ResourceRef(ConfigMap.resource, namespace: "default", name: "x"))
        #expect(error.kind == .invalid)
        #expect(error.description.contains("metadata.name: must be no more than 253 characters"))
    }

    @Test("JSONValue keeps fields it does not model through a round trip")
    func roundTrip() throws {
        let text = #"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"a","resourceVersion":"7","managedFields":[{"manager":"kubectl"}]},"data":{"k":"v"},"futureField":{"x":1.5,"y":[true,null]}}"#
        var map = ConfigMap(json: try JSONValue.decode(Array(text.utf8)))
        map.data["k2"] = "v2"
        let back = try JSONValue.decode(Array(try map.json.encoded()))
        #expect(back["futureField"] == ["x": .double(1.5), "y": [true, nil]])
        #expect(back[path: ["metadata", "managedFields"]] == [["manager": "kubectl"]])
        #expect(ConfigMap(json: back).data == ["k": "v", "k2": "v2"])
        #expect(ConfigMap(json: back).resourceVersion == "7")
    }
}
