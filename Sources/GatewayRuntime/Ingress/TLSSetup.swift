import GatewayConfig
import GatewayCore
import GatewayCrypto
import Glibc

/// Builds the public listener's TLS context from `server.tls`, at start, on reload (so a renewed
/// certificate is picked up without a restart) and in `gateway check`.
enum TLSSetup {
    static func serverContext(_ config: GatewayConfig) throws(ConfigErrors) -> TLSServerContext? {
        guard let t = config.server.tls else { return nil }
        func fail(_ message: String) -> ConfigErrors {
            ConfigErrors([ConfigError(file: config.file, mark: t.mark, message: "server.tls: \(message)")])
        }
        // The private key is a secret: like `{file: ...}` secrets, it must not be readable by others.
        var st = stat()
        if stat(t.key, &st) == 0 && st.st_mode & 0o004 != 0 {
            throw fail("the private key '\(t.key)' is readable by other users; chmod o-r it")
        }
        do {
            return try TLSServerContext(certificateChainFile: t.cert, privateKeyFile: t.key)
        } catch {
            throw fail(error.description)
        }
    }
}
