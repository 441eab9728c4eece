private import COpenSSL
import GatewayCore

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

/// A thread's reusable EVP_MD_CTX. A context made and freed per digest costs three OpenSSL
/// allocations and frees each time (the context, the provider's state, its copy): six per
/// notification, for the signature and the de-duplication digest.
final class DigestContext {
    let ctx: OpaquePointer?
    init() { ctx = EVP_MD_CTX_new() }
    deinit { EVP_MD_CTX_free(ctx) }

    static let perThread = PerThread { DigestContext() }
}

public enum Digest {
    /// The digest of what `feed` passes to its `update` function, in order: pieces are hashed
    /// where they are, with no array made to hold them.
    public static func hash(
        _ algorithm: DigestAlgorithm, _ feed: (_ update: (UnsafeRawBufferPointer) -> Void) -> Void
    ) throws(CryptoError) -> [UInt8] {
        let fetched = try FetchedDigest.get(algorithm)
        guard let ctx = DigestContext.perThread.current.ctx else { throw CryptoError.drain("EVP_MD_CTX_new") }
        // Initializing again resets the context (and keeps the provider's state allocated when
        // the digest is the same as last time).
        guard EVP_DigestInit_ex2(ctx, fetched.md, nil) == 1 else { throw CryptoError.drain("EVP_DigestInit_ex2") }
        var ok = true
        feed { piece in
            if ok && EVP_DigestUpdate(ctx, piece.baseAddress, piece.count) != 1 { ok = false }
        }
        guard ok else { throw CryptoError.drain("EVP_DigestUpdate") }
        var failed = false
        let out = [UInt8](unsafeUninitializedCapacity: Int(EVP_MAX_MD_SIZE)) { buffer, count in
            var len: UInt32 = 0
            failed = EVP_DigestFinal_ex(ctx, buffer.baseAddress, &len) != 1
            count = failed ? 0 : Int(len)
        }
        if failed { throw CryptoError.drain("EVP_DigestFinal_ex") }
        return out
    }

    /// The digest of the concatenation of `parts`.
    public static func hash(_ algorithm: DigestAlgorithm, parts: [[UInt8]]) throws(CryptoError) -> [UInt8] {
        try hash(algorithm) { update in
            for p in parts { p.withUnsafeBytes { update($0) } }
        }
    }

    public static func hash(_ algorithm: DigestAlgorithm, _ bytes: [UInt8]) throws(CryptoError) -> [UInt8] {
        try hash(algorithm) { update in bytes.withUnsafeBytes { update($0) } }
    }
}
