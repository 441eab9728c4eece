import CGatewayPluginABI
import Foundation

/// The Swift side of the plugin ABI: implement `GatewayHandler`, describe the plugin with a
/// `PluginDefinition`, and export the register function:
///
/// ```swift
/// @_cdecl("gw_plugin_register_v1")
/// public func register(_ table: UnsafeMutablePointer<gw_plugin_v1>?, _ size: UInt32) -> Int32 {
///     PluginRegistry.register(MyPlugin.definition, table: table, size: size)
/// }
/// ```
///
/// This module is compiled into each plugin (SwiftPM links target dependencies statically into a
/// dynamic product). That is harmless here: no Swift type crosses the C boundary, so the copies in
/// different plugins never meet.
public protocol GatewayHandler: AnyObject, Sendable {
    /// Handles one delivery attempt. Called from several threads at once; may block.
    func handle(_ event: PluginEvent) -> HandlerResult
}

/// What a handler decided.
public enum HandlerResult: Sendable {
    /// Handled; the next handler runs (with `body` when given).
    case proceed(body: [UInt8]? = nil)
    /// Handled; the chain stops here (a filter said no).
    case drop
    /// Transient failure: retry later (at least `afterMs` later when non-zero).
    case retry(String, afterMs: UInt32 = 0)
    /// Permanent failure: the delivery becomes a dead letter.
    case fail(String)
}

/// A plugin: its name, a description, and how to make a handler from a `with:` block.
public struct PluginDefinition: Sendable {
    public let name: String
    public let description: String
    public let make: @Sendable (PluginConfig, PluginHost) throws -> any GatewayHandler
    /// The handler never blocks (no I/O, no sleeping; it answers in microseconds): the host may
    /// run it on its receiving threads (`GW_PLUGIN_NONBLOCKING` in gateway_plugin.h).
    public let nonBlocking: Bool
    /// The handler never reads `PluginEvent.body`, only values (`event.value(at:)`): the host
    /// may pass an empty body (`GW_PLUGIN_BODY_UNUSED` in gateway_plugin.h).
    public let bodyUnused: Bool
    /// With `nonBlocking`: the handler decides from the event alone and does nothing else (no
    /// I/O, no state another call sees), so the host may ask it before the notification is
    /// stored whether the route takes it (`GW_PLUGIN_PURE` in gateway_plugin.h).
    public let pure: Bool

    public init(
        name: String, description: String, nonBlocking: Bool = false, bodyUnused: Bool = false, pure: Bool = false,
        make: @escaping @Sendable (PluginConfig, PluginHost) throws -> any GatewayHandler
    ) {
        self.name = name
        self.description = description
        self.nonBlocking = nonBlocking
        self.bodyUnused = bodyUnused
        self.pure = pure
        self.make = make
    }
}

/// A configuration problem in a handler's `with:` block; shown to the user as a config error.
public struct PluginConfigError: Error, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
