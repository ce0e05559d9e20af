import Testing
@testable import IPVS

@Suite struct NetlinkAttributesTests {
    typealias K = KernelBytes

    @Test("reads host-order integers, network-order ports and strings by type")
    func readsValues() throws {
        let bytes = K.attribute(1, K.u16(10)) + K.attribute(2, K.u32(0xdead_beef)) + K.attribute(3, K.be16(8080))
            + K.attribute(4, K.string("wlc")) + K.attribute(5, K.u64(1 << 40)) + K.attribute(6, K.u8(2))
        let attributes = try NetlinkAttributes(bytes: bytes, maxType: 6)
        #expect(try attributes.u16(1) == 10)
        #expect(try attributes.u32(2) == 0xdead_beef)
        #expect(try attributes.be16(3) == 8080)
        #expect(try attributes.string(4, maxLength: 16) == "wlc")
        #expect(try attributes.u64(5) == 1 << 40)
        #expect(try attributes.u8(6) == 2)
        #expect(try attributes.u32(7) == nil)
    }

    @Test("ignores types above the maximum and masks the nested and byte-order flags")
    func unknownTypesAndFlags() throws {
        let bytes = K.attribute(40, K.u32(1)) + K.attribute(0x8000 | 2, K.u32(5)) + K.attribute(0x4000 | 1, K.u16(3))
        let attributes = try NetlinkAttributes(bytes: bytes, maxType: 2)
        #expect(try attributes.u32(2) == 5)
        #expect(try attributes.u16(1) == 3)
        #expect(!attributes.contains(40))
    }

    @Test("a repeated type keeps the last value, as nla_parse does")
    func lastWins() throws {
        let attributes = try NetlinkAttributes(bytes: K.attribute(1, K.u32(1)) + K.attribute(1, K.u32(2)), maxType: 1)
        #expect(try attributes.u32(1) == 2)
    }

    @Test("a length past the end, below the header, or stray bytes are errors, not traps", arguments: [
        [8, 0, 1, 0, 1, 2],        // declares 8, has 6
        [2, 0, 1, 0],              // declares less than its own header
        [8, 0, 1, 0, 1, 2, 3, 4, 9, 9],  // two stray bytes after a valid attribute
        [0, 0, 0, 0],              // zero length would loop forever if accepted
    ] as [[UInt8]])
    func malformedLayouts(bytes: [UInt8]) {
        #expect(throws: MalformedAttributes.self) { try NetlinkAttributes(bytes: bytes, maxType: 4) }
    }

    @Test("a value of the wrong width is an error naming the attribute")
    func wrongWidth() throws {
        let attributes = try NetlinkAttributes(bytes: K.attribute(1, K.u16(3)), maxType: 1)
        #expect(throws: MalformedAttributes("attribute 1 has 2 bytes, expected 4")) { try attributes.u32(1) }
    }

    @Test("a name at or above the kernel's 16-byte limit is refused; one without NUL is read to its end")
    func names() throws {
        let long = try NetlinkAttributes(bytes: K.attribute(1, K.string(String(repeating: "x", count: 16))), maxType: 1)
        #expect(throws: MalformedAttributes.self) { try long.string(1, maxLength: 16) }
        let unterminated = try NetlinkAttributes(bytes: K.attribute(1, Array("sh".utf8)), maxType: 1)
        #expect(try unterminated.string(1, maxLength: 16) == "sh")
    }

    @Test("an empty buffer has no attributes")
    func empty() throws {
        let attributes = try NetlinkAttributes(bytes: [], maxType: 3)
        #expect(!attributes.contains(1))
    }

    @Test("the writer lays attributes out as the kernel does: length, type, payload, zero padding")
    func writerLayout() {
        var writer = NetlinkAttributeWriter()
        writer.putU16(1, 2)
        writer.putBE16(4, 80)
        writer.putString(6, "rr")
        writer.nest(2) { $0.putU32(3, 7) }
        #expect(writer.bytes == [
            6, 0, 1, 0, 2, 0, 0, 0,
            6, 0, 4, 0, 0, 80, 0, 0,
            7, 0, 6, 0, 0x72, 0x72, 0, 0,
            12, 0, 2, 0, 8, 0, 3, 0, 7, 0, 0, 0,
        ])
    }
}
