private import COpenSSL
private import COpenSSLShims
import Glibc

/// TLS through OpenSSL, on sockets the caller owns (non-blocking for the server's event loops,
/// blocking-with-poll for clients). Policy, set once in the shims: TLS 1.2 and 1.3 only, ECDHE
/// with AEAD ciphers for 1.2, OpenSSL's 1.3 suites, no renegotiation, no compression.
public enum TLS {
    /// What one read or write did.
    public enum IOResult: Sendable, Equatable {
        /// Bytes read or written (never 0).
        case bytes(Int)
        /// Nothing until the socket is readable (also during a handshake).
        case wantRead
        /// Nothing until the socket is writable (also during a handshake).
        case wantWrite
        /// The peer closed the TLS session (close_notify) or the connection.
        case closed
        /// A protocol or certificate error; the connection must be closed.
        case failed(String)
    }
}

/// A server certificate chain and key, ready to accept TLS sessions. Immutable: a reload builds
/// a new one and new connections use it; open connections keep theirs.
public final class TLSServerContext: @unchecked Sendable {
    // Unchecked: an SSL_CTX is safe to share once configured (OpenSSL locks internally).
    let ctx: OpaquePointer
    public let certificateFile: String

    /// Loads a PEM certificate chain (leaf first) and its PEM private key, and checks they match.
    public init(certificateChainFile: String, privateKeyFile: String) throws(CryptoError) {
        guard let c = gw_tls_server_ctx_new() else { throw CryptoError.drain("TLS server context") }
        guard SSL_CTX_use_certificate_chain_file(c, certificateChainFile) == 1 else {
            SSL_CTX_free(c)
            throw CryptoError.drain("load certificate chain '\(certificateChainFile)'")
        }
        guard SSL_CTX_use_PrivateKey_file(c, privateKeyFile, SSL_FILETYPE_PEM) == 1 else {
            SSL_CTX_free(c)
            let e = CryptoError.drain("load private key '\(privateKeyFile)'")
            if e.detail.contains("key values mismatch") {
                throw CryptoError(operation: "the private key '\(privateKeyFile)' does not match the certificate '\(certificateChainFile)'", detail: "")
            }
            throw e
        }
        guard SSL_CTX_check_private_key(c) == 1 else {
            SSL_CTX_free(c)
            throw CryptoError.drain("the private key does not match the certificate")
        }
        ctx = c
        certificateFile = certificateChainFile
    }

    deinit { SSL_CTX_free(ctx) }

    /// A server session on an accepted socket; the handshake happens in the first reads/writes.
    public func accept(fd: Int32) -> TLSSession? {
        guard let ssl = SSL_new(ctx) else { return nil }
        gw_tls_set_modes(ssl)
        guard SSL_set_fd(ssl, fd) == 1 else {
            SSL_free(ssl)
            return nil
        }
        SSL_set_accept_state(ssl)
        return TLSSession(ssl: ssl)
    }
}

/// Trust settings for outgoing connections (forward-http).
public final class TLSClientContext: @unchecked Sendable {
    let ctx: OpaquePointer
    public let verifies: Bool

    /// `caFile`: PEM bundle to trust instead of the system store. `verify: false` turns all
    /// checks off (`insecureSkipVerify`: for tests only).
    public init(caFile: String? = nil, verify: Bool = true) throws(CryptoError) {
        guard let c = gw_tls_client_ctx_new(caFile, verify ? 1 : 0) else {
            throw CryptoError.drain(caFile.map { "load CA file '\($0)'" } ?? "TLS client context")
        }
        ctx = c
        verifies = verify
    }

    deinit { SSL_CTX_free(ctx) }

    /// A client session on a connected socket, for `host` (SNI and certificate name check).
    public func connect(fd: Int32, host: String) throws(CryptoError) -> TLSSession {
        guard let ssl = SSL_new(ctx) else { throw CryptoError.drain("SSL_new") }
        gw_tls_set_modes(ssl)
        guard SSL_set_fd(ssl, fd) == 1, gw_tls_set_host(ssl, host, verifies ? 1 : 0) == 1 else {
            SSL_free(ssl)
            throw CryptoError.drain("TLS session for \(host)")
        }
        SSL_set_connect_state(ssl)
        return TLSSession(ssl: ssl)
    }
}

/// One TLS session over one socket. Used from one thread at a time.
public final class TLSSession: @unchecked Sendable {
    let ssl: OpaquePointer
    private var shutDown = false

    init(ssl: OpaquePointer) {
        self.ssl = ssl
    }

    deinit { SSL_free(ssl) }

    /// Drives the handshake; `.bytes(0)`-free: `.closed` never, `.bytes(1)` when done.
    public func handshake() -> TLS.IOResult {
        ERR_clear_error()
        let r = SSL_do_handshake(ssl)
        return r == 1 ? .bytes(1) : result(r)
    }

    public func read(into buffer: UnsafeMutableRawBufferPointer) -> TLS.IOResult {
        guard let base = buffer.baseAddress, buffer.count > 0 else { return .wantRead }
        ERR_clear_error()
        let r = SSL_read(ssl, base, Int32(clamping: buffer.count))
        return r > 0 ? .bytes(Int(r)) : result(r)
    }

    public func write(_ bytes: UnsafeRawBufferPointer) -> TLS.IOResult {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return .bytes(0) }
        ERR_clear_error()
        let r = SSL_write(ssl, base, Int32(clamping: bytes.count))
        return r > 0 ? .bytes(Int(r)) : result(r)
    }

    /// Decrypted bytes buffered inside OpenSSL (readable without the socket being readable).
    public var pending: Int { Int(SSL_pending(ssl)) }

    /// Sends close_notify once (best effort: the socket may be gone).
    public func shutdown() {
        guard !shutDown else { return }
        shutDown = true
        ERR_clear_error()
        _ = SSL_shutdown(ssl)
        ERR_clear_error()
    }

    /// The subject of the peer's certificate (`CN=...`), nil without one.
    public var peerSubject: String? {
        guard let cert = SSL_get1_peer_certificate(ssl) else { return nil }
        defer { X509_free(cert) }
        guard let name = X509_get_subject_name(cert), let text = X509_NAME_oneline(name, nil, 0) else { return nil }
        defer { CRYPTO_free(text, #fileID, #line) }
        return String(cString: text)
    }

    /// The negotiated protocol, e.g. `TLSv1.3`.
    public var version: String { String(cString: gw_tls_version(ssl)) }

    private func result(_ r: Int32) -> TLS.IOResult {
        switch SSL_get_error(ssl, r) {
        case SSL_ERROR_WANT_READ: return .wantRead
        case SSL_ERROR_WANT_WRITE: return .wantWrite
        case SSL_ERROR_ZERO_RETURN: return .closed
        case SSL_ERROR_SYSCALL:
            let e = errno
            ERR_clear_error()
            if e == EAGAIN || e == EWOULDBLOCK { return .wantRead }
            return .closed  // EOF without close_notify, or a reset
        default:
            let verify = SSL_get_verify_result(ssl)
            if verify != X509_V_OK {
                ERR_clear_error()
                return .failed("certificate verification failed: \(String(cString: X509_verify_cert_error_string(verify)))")
            }
            return .failed(CryptoError.drain("TLS").detail)
        }
    }
}
