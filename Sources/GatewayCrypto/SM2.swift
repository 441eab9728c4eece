private import COpenSSL

/// SM2 signatures with SM3, the provider's public-key signing scheme.
///
/// The distinguishing ID is set explicitly on every operation: OpenSSL 3.0 otherwise signs and
/// verifies with an empty ID, while the provider (and GB/T 32918) uses `1234567812345678`.
public enum SM2 {
    /// The default distinguishing ID of GM/T 0009-2012, used by the provider's SDKs.
    public static let defaultID: [UInt8] = Array("1234567812345678".utf8)
}

/// An SM2 public key loaded from PEM (`-----BEGIN PUBLIC KEY-----`).
public final class SM2PublicKey: @unchecked Sendable {
    // The EVP_PKEY is never mutated after loading; OpenSSL allows concurrent use of a key
    // through separate contexts, which is what `verify` creates.
    let pkey: OpaquePointer

    public init(pem: [UInt8]) throws(CryptoError) {
        CryptoError.clearQueue()
        let key: OpaquePointer? = pem.withUnsafeBytes { buf in
            guard let bio = BIO_new_mem_buf(buf.baseAddress, Int32(buf.count)) else { return nil }
            defer { BIO_free(bio) }
            return PEM_read_bio_PUBKEY(bio, nil, nil, nil)
        }
        guard let key else { throw CryptoError.drain("reading the SM2 public key (PEM)") }
        guard EVP_PKEY_is_a(key, "SM2") == 1 else {
            EVP_PKEY_free(key)
            throw CryptoError(operation: "reading the SM2 public key", detail: "the key is not an SM2 key")
        }
        pkey = key
    }

    deinit { EVP_PKEY_free(pkey) }

    /// Verifies a DER-encoded SM2 signature over the concatenation of `parts`.
    public func verify(signatureDER: [UInt8], parts: [[UInt8]], id: [UInt8] = SM2.defaultID) -> Bool {
        guard let mctx = EVP_MD_CTX_new() else { return false }
        defer { EVP_MD_CTX_free(mctx) }
        guard let pctx = EVP_PKEY_CTX_new(pkey, nil) else { return false }
        defer { EVP_PKEY_CTX_free(pctx) }
        defer { CryptoError.clearQueue() }
        let idOK = id.withUnsafeBytes { EVP_PKEY_CTX_set1_id(pctx, $0.baseAddress, Int32($0.count)) }
        guard idOK > 0 else { return false }
        EVP_MD_CTX_set_pkey_ctx(mctx, pctx)
        guard EVP_DigestVerifyInit(mctx, nil, EVP_sm3(), nil, pkey) == 1 else { return false }
        for p in parts {
            let ok = p.withUnsafeBytes { EVP_DigestUpdate(mctx, $0.baseAddress, $0.count) }
            guard ok == 1 else { return false }
        }
        return signatureDER.withUnsafeBufferPointer {
            EVP_DigestVerifyFinal(mctx, $0.baseAddress, $0.count)
        } == 1
    }
}

/// An SM2 private key, for `gateway send` and tests (the gateway itself only verifies).
public final class SM2PrivateKey: @unchecked Sendable {
    // Immutable after loading; each `sign` uses its own contexts.
    let pkey: OpaquePointer

    public init(pem: [UInt8]) throws(CryptoError) {
        CryptoError.clearQueue()
        let key: OpaquePointer? = pem.withUnsafeBytes { buf in
            guard let bio = BIO_new_mem_buf(buf.baseAddress, Int32(buf.count)) else { return nil }
            defer { BIO_free(bio) }
            return PEM_read_bio_PrivateKey(bio, nil, nil, nil)
        }
        guard let key else { throw CryptoError.drain("reading the SM2 private key (PEM)") }
        guard EVP_PKEY_is_a(key, "SM2") == 1 else {
            EVP_PKEY_free(key)
            throw CryptoError(operation: "reading the SM2 private key", detail: "the key is not an SM2 key")
        }
        pkey = key
    }

    deinit { EVP_PKEY_free(pkey) }

    /// Signs the concatenation of `parts`; returns the DER-encoded signature.
    public func sign(parts: [[UInt8]], id: [UInt8] = SM2.defaultID) throws(CryptoError) -> [UInt8] {
        guard let mctx = EVP_MD_CTX_new() else { throw CryptoError.drain("EVP_MD_CTX_new") }
        defer { EVP_MD_CTX_free(mctx) }
        guard let pctx = EVP_PKEY_CTX_new(pkey, nil) else { throw CryptoError.drain("EVP_PKEY_CTX_new") }
        defer { EVP_PKEY_CTX_free(pctx) }
        let idOK = id.withUnsafeBytes { EVP_PKEY_CTX_set1_id(pctx, $0.baseAddress, Int32($0.count)) }
        guard idOK > 0 else { throw CryptoError.drain("EVP_PKEY_CTX_set1_id") }
        EVP_MD_CTX_set_pkey_ctx(mctx, pctx)
        guard EVP_DigestSignInit(mctx, nil, EVP_sm3(), nil, pkey) == 1 else { throw CryptoError.drain("EVP_DigestSignInit") }
        for p in parts {
            let ok = p.withUnsafeBytes { EVP_DigestUpdate(mctx, $0.baseAddress, $0.count) }
            guard ok == 1 else { throw CryptoError.drain("EVP_DigestSignUpdate") }
        }
        var len = 0
        guard EVP_DigestSignFinal(mctx, nil, &len) == 1 else { throw CryptoError.drain("EVP_DigestSignFinal") }
        var sig = [UInt8](repeating: 0, count: len)
        guard EVP_DigestSignFinal(mctx, &sig, &len) == 1 else { throw CryptoError.drain("EVP_DigestSignFinal") }
        sig.removeSubrange(len...)
        return sig
    }
}
