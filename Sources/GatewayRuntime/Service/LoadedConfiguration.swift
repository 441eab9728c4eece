import GatewayConfig
import GatewayCrypto

/// Everything built from one `gateway.yaml` before it may serve: the validated configuration,
/// its sources (keys loaded), the TLS context and the routes (plugins loaded and configured).
/// `gateway check` and a reload build exactly this; any problem is a `ConfigErrors`.
struct LoadedConfiguration {
    let config: GatewayConfig
    let sources: SourceTable
    let tls: TLSServerContext?
    let routes: RouteTable

    static func load(path: String) throws(ConfigErrors) -> LoadedConfiguration {
        let config = try GatewayConfig.load(path: path)
        let sources = try SourceTable(config: config)
        let tls = try TLSSetup.serverContext(config)
        let routes = try RouteTable.compile(config, loadPlugins: true)
        return LoadedConfiguration(config: config, sources: sources, tls: tls, routes: routes)
    }
}
