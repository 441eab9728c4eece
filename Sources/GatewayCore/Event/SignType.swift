/// The signature algorithms the provider uses, as named in its `SignType` header.
public enum SignType: String, Sendable, CaseIterable, Hashable {
    case sha256 = "SHA256"
    case sha512 = "SHA512"
    case hmacSHA256 = "HMAC-SHA256"
    case hmacSHA512 = "HMAC-SHA512"
    case sm2WithSM3 = "SM2withSM3"

    /// Parses a header value or config entry. Matching ignores case (`sha256`, `Sm2WithSm3`),
    /// since senders differ in spelling; the canonical spelling is `rawValue`.
    public init?(name: String) {
        for t in SignType.allCases where ASCII.equalsIgnoringCase(t.rawValue, name) {
            self = t
            return
        }
        return nil
    }

    /// Algorithms keyed with the shared sign key (everything but SM2, which uses a public key).
    public var usesSharedKey: Bool { self != .sm2WithSM3 }

    public static let symmetric: [SignType] = [.sha256, .sha512, .hmacSHA256, .hmacSHA512]
}
