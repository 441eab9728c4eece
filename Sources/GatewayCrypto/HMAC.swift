private import COpenSSL
private import COpenSSLShims

/// HMAC through OpenSSL 3's EVP_MAC interface.
public enum HMAC {
    final class FetchedMAC: @unchecked Sendable {
        // EVP_MAC is an immutable, reference-counted algorithm handle; safe to share.
        let mac: OpaquePointer
        private init?() {
            guard let m = EVP_MAC_fetch(nil, "HMAC", nil) else { return nil }
            mac = m
        }
        static let shared = FetchedMAC()
    }

    /// HMAC-`algorithm` of the concatenation of `parts`, keyed with `key`.
    public static func authenticate(
        _ algorithm: DigestAlgorithm, key: [UInt8], parts: [[UInt8]]
    ) throws(CryptoError) -> [UInt8] {
        guard let fetched = FetchedMAC.shared else { throw CryptoError.drain("EVP_MAC_fetch(HMAC)") }
        let ctx = key.withUnsafeBufferPointer { k in
            gw_hmac_ctx_new(fetched.mac, algorithm.name, k.baseAddress, k.count)
        }
        guard let ctx else { throw CryptoError.drain("HMAC init") }
        defer { EVP_MAC_CTX_free(ctx) }
        for p in parts {
            let ok = p.withUnsafeBufferPointer { EVP_MAC_update(ctx, $0.baseAddress, $0.count) }
            guard ok == 1 else { throw CryptoError.drain("EVP_MAC_update") }
        }
        var out = [UInt8](repeating: 0, count: 64)
        var len = 0
        guard EVP_MAC_final(ctx, &out, &len, out.count) == 1 else { throw CryptoError.drain("EVP_MAC_final") }
        out.removeSubrange(len...)
        return out
    }
}
