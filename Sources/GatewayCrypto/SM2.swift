private import COpenSSL

/// SM2 signatures with SM3, the provider's public-key signing scheme.
///
/// The distinguishing ID is set explicitly on every operation: OpenSSL 3.0 otherwise signs and
/// verifies with an empty ID, while the provider (and GB/T 32918) uses `1234567812345678`.
public enum SM2 {
    /// The default distinguishing ID of GM/T 0009-2012, used by the provider's SDKs.
    public static let defaultID: [UInt8] = Array("1234567812345678".utf8)

    /// Reads a PEM key with `read` (public or private) and checks that it is an SM2 key.
    static func loadKey(_ pem: [UInt8], what: String, read: (OpaquePointer) -> OpaquePointer?) throws(CryptoError) -> OpaquePointer {
        CryptoError.clearQueue()
        let key: OpaquePointer? = pem.withUnsafeBytes { buf in
            guard let bio = BIO_new_mem_buf(buf.baseAddress, Int32(buf.count)) else { return nil }
            defer { BIO_free(bio) }
            return read(bio)
        }
        guard let key else { throw CryptoError.drain("reading the SM2 \(what) key (PEM)") }
        guard EVP_PKEY_is_a(key, "SM2") == 1 else {
            EVP_PKEY_free(key)
            throw CryptoError(operation: "reading the SM2 \(what) key", detail: "the key is not an SM2 key")
        }
        return key
    }

    /// Runs `body` with a digest context set up for SM2 with SM3 and the distinguishing ID `id`
    /// (the one place the ID is set: OpenSSL 3.0 would otherwise use an empty one). Returns nil
    /// when OpenSSL cannot set it up.
    static func withContext<R>(_ pkey: OpaquePointer, id: [UInt8], _ body: (OpaquePointer) -> R?) -> R? {
        guard let mctx = EVP_MD_CTX_new() else { return nil }
        defer { EVP_MD_CTX_free(mctx) }
        guard let pctx = EVP_PKEY_CTX_new(pkey, nil) else { return nil }
        defer { EVP_PKEY_CTX_free(pctx) }
        let idOK = id.withUnsafeBytes { EVP_PKEY_CTX_set1_id(pctx, $0.baseAddress, Int32($0.count)) }
        guard idOK > 0 else { return nil }
        EVP_MD_CTX_set_pkey_ctx(mctx, pctx)
        return body(mctx)
    }

    static func update(_ mctx: OpaquePointer, _ parts: [[UInt8]]) -> Bool {
        for p in parts {
            let ok = p.withUnsafeBytes { EVP_DigestUpdate(mctx, $0.baseAddress, $0.count) }
            guard ok == 1 else { return false }
        }
        return true
    }
}

/// An SM2 public key loaded from PEM (`-----BEGIN PUBLIC KEY-----`).
public final class SM2PublicKey: @unchecked Sendable {
    // The EVP_PKEY is never mutated after loading; OpenSSL allows concurrent use of a key
    // through separate contexts, which is what `verify` creates.
    let pkey: OpaquePointer

    public init(pem: [UInt8]) throws(CryptoError) {
        pkey = try SM2.loadKey(pem, what: "public") { PEM_read_bio_PUBKEY($0, nil, nil, nil) }
    }

    deinit { EVP_PKEY_free(pkey) }

    /// Verifies a DER-encoded SM2 signature over the concatenation of `parts`.
    public func verify(signatureDER: [UInt8], parts: [[UInt8]], id: [UInt8] = SM2.defaultID) -> Bool {
        defer { CryptoError.clearQueue() }
        return SM2.withContext(pkey, id: id) { mctx -> Bool? in
            guard EVP_DigestVerifyInit(mctx, nil, EVP_sm3(), nil, pkey) == 1, SM2.update(mctx, parts) else { return false }
            return signatureDER.withUnsafeBufferPointer { EVP_DigestVerifyFinal(mctx, $0.baseAddress, $0.count) } == 1
        } ?? false
    }
}

/// An SM2 private key, for `gateway send` and tests (the gateway itself only verifies).
public final class SM2PrivateKey: @unchecked Sendable {
    // Immutable after loading; each `sign` uses its own contexts.
    let pkey: OpaquePointer

    public init(pem: [UInt8]) throws(CryptoError) {
        pkey = try SM2.loadKey(pem, what: "private") { PEM_read_bio_PrivateKey($0, nil, nil, nil) }
    }

    deinit { EVP_PKEY_free(pkey) }

    /// Signs the concatenation of `parts`; returns the DER-encoded signature.
    public func sign(parts: [[UInt8]], id: [UInt8] = SM2.defaultID) throws(CryptoError) -> [UInt8] {
        let signature = SM2.withContext(pkey, id: id) { mctx -> [UInt8]? in
            guard EVP_DigestSignInit(mctx, nil, EVP_sm3(), nil, pkey) == 1, SM2.update(mctx, parts) else { return nil }
            var len = 0
            guard EVP_DigestSignFinal(mctx, nil, &len) == 1 else { return nil }
            var sig = [UInt8](repeating: 0, count: len)
            guard EVP_DigestSignFinal(mctx, &sig, &len) == 1 else { return nil }
            sig.removeSubrange(len...)
            return sig
        }
        guard let signature else { throw CryptoError.drain("SM2 signing") }
        return signature
    }
}
