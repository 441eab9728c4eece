/// Comparisons whose running time does not depend on where inputs differ.
///
/// Signature checks use these so a client cannot learn, byte by byte, how much of a forged
/// signature was right by timing the answers. Only the lengths (which are public) may leak.
public enum ConstantTime {
    public static func equals(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        var diff: UInt8 = 0
        for i in 0..<a.count { diff |= a[i] ^ b[i] }
        return diff == 0
    }

    /// Compares ASCII text ignoring the case of letters, in constant time for equal lengths.
    public static func equalsIgnoringASCIICase(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        var diff: UInt8 = 0
        for i in 0..<a.count { diff |= ASCII.lower(a[i]) ^ ASCII.lower(b[i]) }
        return diff == 0
    }
}
