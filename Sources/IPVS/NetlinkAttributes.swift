/// The attributes of one netlink message (or of one nested attribute), indexed by type.
///
/// Parsing never traps on hostile input: a truncated header, a length that runs past the end or below the
/// header size is a `MalformedAttributes` error; attribute types above `maxType` are ignored, as the kernel
/// adds attributes over time; a repeated type keeps the last occurrence, as `nla_parse` does.
struct NetlinkAttributes {
    private let bytes: [UInt8]
    private var spans: [Range<Int>?]

    init(bytes: [UInt8], maxType: UInt16) throws(MalformedAttributes) {
        try self.init(bytes: bytes, range: bytes.startIndex..<bytes.endIndex, maxType: maxType)
    }

    private init(bytes: [UInt8], range: Range<Int>, maxType: UInt16) throws(MalformedAttributes) {
        self.bytes = bytes
        self.spans = Array(repeating: nil, count: Int(maxType) + 1)
        var offset = range.lowerBound
        while range.upperBound - offset >= NetlinkHeader.attributeHeaderLength {
            let length = Int(Self.readHost(UInt16.self, bytes, at: offset))
            let type = Self.readHost(UInt16.self, bytes, at: offset + 2) & NetlinkHeader.attributeTypeMask
            guard length >= NetlinkHeader.attributeHeaderLength else {
                throw MalformedAttributes("attribute of type \(type) declares length \(length), below the 4-byte header")
            }
            guard length <= range.upperBound - offset else {
                throw MalformedAttributes(
                    "attribute of type \(type) declares length \(length) but only \(range.upperBound - offset) bytes remain")
            }
            if type <= maxType {
                spans[Int(type)] = (offset + NetlinkHeader.attributeHeaderLength)..<(offset + length)
            }
            offset += (length + 3) & ~3
        }
        // Trailing bytes shorter than a header are padding at best; the kernel never sends them.
        if offset < range.upperBound {
            throw MalformedAttributes("\(range.upperBound - offset) stray bytes after the last attribute")
        }
    }

    func contains(_ type: UInt16) -> Bool {
        Int(type) < spans.count && spans[Int(type)] != nil
    }

    func u8(_ type: UInt16) throws(MalformedAttributes) -> UInt8? {
        try integer(UInt8.self, type)
    }

    func u16(_ type: UInt16) throws(MalformedAttributes) -> UInt16? {
        try integer(UInt16.self, type)
    }

    func u32(_ type: UInt16) throws(MalformedAttributes) -> UInt32? {
        try integer(UInt32.self, type)
    }

    func u64(_ type: UInt16) throws(MalformedAttributes) -> UInt64? {
        try integer(UInt64.self, type)
    }

    /// A 16-bit value in network order (ports).
    func be16(_ type: UInt16) throws(MalformedAttributes) -> UInt16? {
        try integer(UInt16.self, type).map { UInt16(bigEndian: $0) }
    }

    /// A string up to its first NUL; bytes that are not UTF-8 are replaced, never trusted.
    func string(_ type: UInt16, maxLength: Int) throws(MalformedAttributes) -> String? {
        guard let span = span(type) else { return nil }
        let payload = bytes[span]
        let text = payload.firstIndex(of: 0).map { payload[..<$0] } ?? payload
        guard text.count < maxLength else {
            throw MalformedAttributes("attribute \(type) holds a \(text.count)-byte name; the kernel limit is \(maxLength - 1)")
        }
        return String(decoding: text, as: UTF8.self)
    }

    func raw(_ type: UInt16) -> ArraySlice<UInt8>? {
        span(type).map { bytes[$0] }
    }

    func nested(_ type: UInt16, maxType: UInt16) throws(MalformedAttributes) -> NetlinkAttributes? {
        guard let span = span(type) else { return nil }
        return try NetlinkAttributes(bytes: bytes, range: span, maxType: maxType)
    }

    private func span(_ type: UInt16) -> Range<Int>? {
        Int(type) < spans.count ? spans[Int(type)] : nil
    }

    private func integer<T: FixedWidthInteger>(_: T.Type, _ type: UInt16) throws(MalformedAttributes) -> T? {
        guard let span = span(type) else { return nil }
        guard span.count == MemoryLayout<T>.size else {
            throw MalformedAttributes("attribute \(type) has \(span.count) bytes, expected \(MemoryLayout<T>.size)")
        }
        return Self.readHost(T.self, bytes, at: span.lowerBound)
    }

    private static func readHost<T: FixedWidthInteger>(_: T.Type, _ bytes: [UInt8], at offset: Int) -> T {
        var value = T.zero
        withUnsafeMutableBytes(of: &value) { destination in
            for index in 0..<MemoryLayout<T>.size {
                destination[index] = bytes[offset + index]
            }
        }
        return value
    }
}

/// Why a netlink payload could not be decoded; the caller names the operation.
struct MalformedAttributes: Error, Equatable {
    let reason: String
    init(_ reason: String) { self.reason = reason }
}

/// Builds a netlink attribute stream in the layout `nla_put` produces: header, payload, zero padding to 4.
struct NetlinkAttributeWriter {
    private(set) var bytes: [UInt8] = []

    mutating func put(_ type: UInt16, _ payload: some Collection<UInt8>) {
        appendHost(UInt16(NetlinkHeader.attributeHeaderLength + payload.count))
        appendHost(type)
        bytes.append(contentsOf: payload)
        pad()
    }

    mutating func putU8(_ type: UInt16, _ value: UInt8) { put(type, [value]) }
    mutating func putU16(_ type: UInt16, _ value: UInt16) { put(type, Self.hostBytes(value)) }
    mutating func putU32(_ type: UInt16, _ value: UInt32) { put(type, Self.hostBytes(value)) }
    mutating func putU64(_ type: UInt16, _ value: UInt64) { put(type, Self.hostBytes(value)) }
    mutating func putBE16(_ type: UInt16, _ value: UInt16) { put(type, Self.hostBytes(value.bigEndian)) }

    /// A NUL-terminated string, as `nla_put_string` writes it.
    mutating func putString(_ type: UInt16, _ value: String) {
        put(type, Array(value.utf8) + [0])
    }

    mutating func nest(_ type: UInt16, _ body: (inout NetlinkAttributeWriter) -> Void) {
        var inner = NetlinkAttributeWriter()
        body(&inner)
        put(type, inner.bytes)
    }

    private mutating func appendHost<T: FixedWidthInteger>(_ value: T) {
        bytes.append(contentsOf: Self.hostBytes(value))
    }

    private mutating func pad() {
        while bytes.count % 4 != 0 { bytes.append(0) }
    }

    private static func hostBytes<T: FixedWidthInteger>(_ value: T) -> [UInt8] {
        withUnsafeBytes(of: value) { Array($0) }
    }
}
