/// Just enough of Kubernetes' protobuf encoding to read the access reviews kubectl sends that way
/// (`kubectl auth can-i` posts SelfSubjectAccessReview as application/vnd.kubernetes.protobuf).
/// The envelope is the 4-byte magic `k8s\0` and a runtime.Unknown message: 1 typeMeta, 2 raw object bytes.
enum KubeProtobuf {
    static let contentType = "application/vnd.kubernetes.protobuf"

    private struct Reader {
        let bytes: [UInt8]
        var index: Int

        mutating func varint() -> UInt64? {
            var result: UInt64 = 0
            var shift: UInt64 = 0
            while index < bytes.count, shift < 64 {
                let b = bytes[index]
                index += 1
                result |= UInt64(b & 0x7f) << shift
                if b & 0x80 == 0 { return result }
                shift += 7
            }
            return nil
        }

        /// The next field as (number, wire type, payload for length-delimited fields).
        mutating func field() -> (number: Int, bytes: [UInt8]?)? {
            guard index < bytes.count, let key = varint() else { return nil }
            let number = Int(key >> 3)
            switch key & 7 {
            case 0: return varint().map { _ in (number, nil) }
            case 1: index += 8; return (number, nil)
            case 5: index += 4; return (number, nil)
            case 2:
                guard let length = varint(), index + Int(length) <= bytes.count else { return nil }
                let payload = Array(bytes[index..<index + Int(length)])
                index += Int(length)
                return (number, payload)
            default: return nil
            }
        }
    }

    /// Length-delimited fields of a message, by field number (last one wins, as protobuf does for scalars).
    private static func fields(_ bytes: [UInt8]) -> [Int: [UInt8]]? {
        var reader = Reader(bytes: bytes, index: 0)
        var result: [Int: [UInt8]] = [:]
        while reader.index < bytes.count {
            guard let field = reader.field() else { return nil }
            if let payload = field.bytes { result[field.number] = payload }
        }
        return result
    }

    private static func strings(_ bytes: [UInt8]?, _ names: [Int: String]) -> JSONValue {
        var object: [String: JSONValue] = [:]
        for (number, payload) in fields(bytes ?? []) ?? [:] {
            if let name = names[number] { object[name] = .string(String(decoding: payload, as: UTF8.self)) }
        }
        return .object(object)
    }

    /// Decodes a SelfSubjectAccessReview or SelfSubjectRulesReview body into its JSON form.
    static func decodeReview(_ body: [UInt8], resource: ResourceType) -> JSONValue? {
        guard body.count >= 4, Array(body[0..<4]) == [0x6b, 0x38, 0x73, 0x00],
            let envelope = fields(Array(body[4...])), let raw = envelope[2], let object = fields(raw)
        else { return nil }
        let spec = fields(object[2] ?? []) ?? [:]
        if resource == .selfSubjectRulesReviews {
            return ["spec": strings(object[2], [1: "namespace"])]
        }
        var specJSON: [String: JSONValue] = [:]
        if let attributes = spec[1] {
            specJSON["resourceAttributes"] = strings(attributes, [1: "namespace", 2: "verb", 3: "group", 4: "version",
                                                                  5: "resource", 6: "subresource", 7: "name"])
        }
        if let attributes = spec[2] {
            specJSON["nonResourceAttributes"] = strings(attributes, [1: "path", 2: "verb"])
        }
        return ["spec": .object(specJSON)]
    }
}
