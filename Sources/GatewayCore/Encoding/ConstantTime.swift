/// Comparisons whose running time does not depend on where inputs differ.
///
/// Signature checks use these so a client cannot learn, byte by byte, how much of a forged
/// signature was right by timing the answers. Only the lengths (which are public) may leak.
public enum ConstantTime {
    public static func equals(_ a: some Collection<UInt8>, _ b: some Collection<UInt8>) -> Bool {
        guard a.count == b.count else { return false }
        var diff: UInt8 = 0
        for (x, y) in zip(a, b) { diff |= x ^ y }
        return diff == 0
    }

    /// Compares ASCII text ignoring the case of letters, in constant time for equal lengths.
    public static func equalsIgnoringASCIICase(_ a: some Collection<UInt8>, _ b: some Collection<UInt8>) -> Bool {
        guard a.count == b.count else { return false }
        var diff: UInt8 = 0
        for (x, y) in zip(a, b) { diff |= ASCII.lower(x) ^ ASCII.lower(y) }
        return diff == 0
    }
}
