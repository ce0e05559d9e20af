#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The address family of a virtual service or a real server.
public enum IPVSAddressFamily: UInt16, Hashable, Sendable, Comparable {
    case ipv4 = 2   // AF_INET
    case ipv6 = 10  // AF_INET6

    public static func < (lhs: Self, rhs: Self) -> Bool { lhs.rawValue < rhs.rawValue }
}

/// An IPv4 or IPv6 address as IPVS stores it (`union nf_inet_addr`), printed and parsed like `inet_ntop` and
/// `inet_pton`, so that text matches `ipvsadm -n` byte for byte.
public struct IPVSAddress: Hashable, Sendable, Comparable, CustomStringConvertible {
    public let family: IPVSAddressFamily
    // The 16 bytes of nf_inet_addr read big-endian in two halves; an IPv4 address fills the first 4 bytes.
    private let high: UInt64
    private let low: UInt64

    /// Parses a numeric IPv4 or IPv6 address; nil for anything else (host names included).
    public init?(_ text: String) {
        var buffer = [UInt8](repeating: 0, count: IPVSKernel.addressLength)
        if inet_pton(AF_INET, text, &buffer) == 1 {
            self.init(family: .ipv4, wireBytes: buffer)
        } else if inet_pton(AF_INET6, text, &buffer) == 1 {
            self.init(family: .ipv6, wireBytes: buffer)
        } else {
            return nil
        }
    }

    /// An address from the bytes of `union nf_inet_addr` (at least 4 for IPv4, 16 for IPv6).
    init(family: IPVSAddressFamily, wireBytes: some Collection<UInt8>) {
        var high: UInt64 = 0
        var low: UInt64 = 0
        let count = family == .ipv4 ? 4 : IPVSKernel.addressLength
        for (index, byte) in wireBytes.prefix(count).enumerated() {
            if index < 8 {
                high |= UInt64(byte) << (8 * (7 - UInt64(index)))
            } else {
                low |= UInt64(byte) << (8 * (15 - UInt64(index)))
            }
        }
        self.family = family
        self.high = high
        self.low = low
    }

    /// The 16 bytes the kernel expects in `IPVS_*_ATTR_ADDR`.
    var wireBytes: [UInt8] {
        (0..<IPVSKernel.addressLength).map { index in
            index < 8 ? UInt8(truncatingIfNeeded: high >> (8 * (7 - UInt64(index))))
                : UInt8(truncatingIfNeeded: low >> (8 * (15 - UInt64(index))))
        }
    }

    public var description: String {
        let bytes = wireBytes
        var text = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        let af = family == .ipv4 ? AF_INET : AF_INET6
        guard inet_ntop(af, bytes, &text, socklen_t(text.count)) != nil else {
            return bytes.map { String($0, radix: 16) }.joined(separator: ".")
        }
        return String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    public static func < (lhs: Self, rhs: Self) -> Bool {
        (lhs.family, lhs.high, lhs.low) < (rhs.family, rhs.high, rhs.low)
    }
}
