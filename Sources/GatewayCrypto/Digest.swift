private import COpenSSL

/// Message digests through OpenSSL's EVP interface.
public enum DigestAlgorithm: Sendable, CaseIterable {
    case sha256
    case sha512
    case sm3

    var name: String {
        switch self {
        case .sha256: "SHA256"
        case .sha512: "SHA512"
        case .sm3: "SM3"
        }
    }

    public var outputSize: Int {
        switch self {
        case .sha256, .sm3: 32
        case .sha512: 64
        }
    }
}

/// An EVP_MD fetched once per process. OpenSSL 3 makes an implicit fetch (with locking) on
/// every `EVP_DigestInit_ex(ctx, EVP_sha256(), ...)`; fetching explicitly once avoids that cost
/// on every request.
final class FetchedDigest: @unchecked Sendable {
    // The EVP_MD is immutable and reference-counted by OpenSSL; sharing it across threads is
    // documented as safe.
    let md: OpaquePointer

    private init?(_ name: String) {
        guard let md = EVP_MD_fetch(nil, name, nil) else { return nil }
        self.md = md
    }

    static let sha256 = FetchedDigest("SHA256")
    static let sha512 = FetchedDigest("SHA512")
    static let sm3 = FetchedDigest("SM3")

    static func get(_ a: DigestAlgorithm) throws(CryptoError) -> FetchedDigest {
        let d: FetchedDigest? =
            switch a {
            case .sha256: sha256
            case .sha512: sha512
            case .sm3: sm3
            }
        guard let d else { throw CryptoError.drain("EVP_MD_fetch(\(a.name))") }
        return d
    }
}

public enum Digest {
    /// The digest of the concatenation of `parts`.
    public static func hash(_ algorithm: DigestAlgorithm, parts: [[UInt8]]) throws(CryptoError) -> [UInt8] {
        let fetched = try FetchedDigest.get(algorithm)
        guard let ctx = EVP_MD_CTX_new() else { throw CryptoError.drain("EVP_MD_CTX_new") }
        defer { EVP_MD_CTX_free(ctx) }
        guard EVP_DigestInit_ex2(ctx, fetched.md, nil) == 1 else { throw CryptoError.drain("EVP_DigestInit_ex2") }
        for p in parts {
            let ok = p.withUnsafeBytes { EVP_DigestUpdate(ctx, $0.baseAddress, $0.count) }
            guard ok == 1 else { throw CryptoError.drain("EVP_DigestUpdate") }
        }
        var out = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var len: UInt32 = 0
        guard EVP_DigestFinal_ex(ctx, &out, &len) == 1 else { throw CryptoError.drain("EVP_DigestFinal_ex") }
        out.removeSubrange(Int(len)...)
        return out
    }

    public static func hash(_ algorithm: DigestAlgorithm, _ bytes: [UInt8]) throws(CryptoError) -> [UInt8] {
        try hash(algorithm, parts: [bytes])
    }
}
