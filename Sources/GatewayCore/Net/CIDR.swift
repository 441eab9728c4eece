import Glibc

/// An address block (`10.0.0.0/8`, `2001:db8::/32`, or one address), for `allowFrom`.
/// IPv4-mapped IPv6 peers (`::ffff:10.1.2.3`, as a dual-stack listener sees IPv4 clients) match
/// IPv4 blocks.
public struct CIDR: Sendable, Equatable, CustomStringConvertible {
    /// 4 or 16 bytes, host bits cleared.
    public let network: [UInt8]
    public let prefixLength: Int

    public init?(_ text: String) {
        let parts = text.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        guard let address = CIDR.parseAddress(String(parts[0])) else { return nil }
        let bits = address.count * 8
        var prefix = bits
        if parts.count == 2 {
            guard let p = Int(parts[1]), p >= 0, p <= bits, parts[1].allSatisfy(\.isASCII) else { return nil }
            prefix = p
        }
        network = CIDR.masked(address, prefix)
        prefixLength = prefix
    }

    /// The address as 4 (IPv4, also for IPv4-mapped IPv6) or 16 bytes; nil if not an address.
    public static func parseAddress(_ text: String) -> [UInt8]? {
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 {
            return withUnsafeBytes(of: &v4) { Array($0) }
        }
        var v6 = in6_addr()
        guard inet_pton(AF_INET6, text, &v6) == 1 else { return nil }
        let b = withUnsafeBytes(of: &v6) { Array($0) }
        if b[0..<10].allSatisfy({ $0 == 0 }) && b[10] == 0xFF && b[11] == 0xFF { return Array(b[12..<16]) }
        return b
    }

    static func masked(_ a: [UInt8], _ prefix: Int) -> [UInt8] {
        var out = a
        for i in 0..<out.count {
            let keep = max(0, min(8, prefix - i * 8))
            out[i] &= keep == 8 ? 0xFF : UInt8(truncatingIfNeeded: 0xFF << (8 - keep))
        }
        return out
    }

    /// Whether `address` (as from `parseAddress`) is inside this block.
    public func contains(_ address: [UInt8]) -> Bool {
        address.count == network.count && CIDR.masked(address, prefixLength) == network
    }

    public var description: String {
        let text: String
        if network.count == 4 {
            text = network.map(String.init).joined(separator: ".")
        } else {
            var a = in6_addr()
            withUnsafeMutableBytes(of: &a) { for i in 0..<16 { $0[i] = network[i] } }
            var buf = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
            inet_ntop(AF_INET6, &a, &buf, socklen_t(buf.count))
            let end = buf.firstIndex(of: 0) ?? buf.count
            text = String(decoding: buf[..<end].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        }
        return "\(text)/\(prefixLength)"
    }
}
