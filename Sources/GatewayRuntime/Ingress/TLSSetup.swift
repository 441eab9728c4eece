import GatewayConfig
import GatewayCore
import GatewayCrypto

/// Builds the public listener's TLS context from `server.tls` (whose files the configuration
/// decoder has checked, key permissions included), at start, on reload (so a renewed certificate
/// is picked up without a restart) and in `gateway check`.
enum TLSSetup {
    static func serverContext(_ config: GatewayConfig) throws(ConfigErrors) -> TLSServerContext? {
        guard let t = config.server.tls else { return nil }
        do {
            return try TLSServerContext(certificateChainFile: t.cert, privateKeyFile: t.key)
        } catch {
            throw ConfigErrors([ConfigError(file: config.file, mark: t.mark, message: "server.tls: \(error.description)")])
        }
    }
}
