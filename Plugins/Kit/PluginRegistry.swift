public import CGatewayPluginABI
import Foundation

/// Fills the ABI table for a Swift plugin and bridges its C callbacks to `GatewayHandler`.
public enum PluginRegistry {
    /// The plugin this image registered. Each plugin `.so` has its own copy of this module, so
    /// each has its own `definition`.
    nonisolated(unsafe) static var definition: PluginDefinition?
    nonisolated(unsafe) static var namePointer: UnsafeMutablePointer<CChar>?
    nonisolated(unsafe) static var descriptionPointer: UnsafeMutablePointer<CChar>?

    /// Call from the plugin's exported `gw_plugin_register_v1`.
    public static func register(_ def: PluginDefinition, table: UnsafeMutablePointer<gw_plugin_v1>?, size: UInt32) -> Int32 {
        // A host built before `flags` was appended passes the shorter table: fill what it has.
        let baseSize = MemoryLayout<gw_plugin_v1>.offset(of: \gw_plugin_v1.flags) ?? MemoryLayout<gw_plugin_v1>.size
        let hasFlags = Int(size) >= MemoryLayout<gw_plugin_v1>.size
        guard let table, Int(size) >= baseSize else { return GW_FAIL }
        if definition == nil {
            definition = def
            namePointer = strdup(def.name)  // lives for the process: plugins are never unloaded
            descriptionPointer = strdup(def.description)
        }
        table.pointee.abi_version = UInt32(GW_PLUGIN_ABI_VERSION)
        table.pointee.struct_size = UInt32(hasFlags ? MemoryLayout<gw_plugin_v1>.size : baseSize)
        table.pointee.name = UnsafePointer(namePointer)
        table.pointee.description = UnsafePointer(descriptionPointer)
        table.pointee.create = { host, config, instance, out in PluginRegistry.create(host, config, instance, out) }
        table.pointee.handle = { instance, event, out in PluginRegistry.handle(instance, event, out) }
        table.pointee.destroy = { instance in PluginRegistry.destroy(instance) }
        if hasFlags {
            table.pointee.flags =
                (def.nonBlocking ? GW_PLUGIN_NONBLOCKING : 0) | (def.bodyUnused ? GW_PLUGIN_BODY_UNUSED : 0) | (def.pure ? GW_PLUGIN_PURE : 0)
        }
        return GW_OK
    }

    final class Instance {
        let handler: any GatewayHandler
        let host: PluginHost
        init(handler: any GatewayHandler, host: PluginHost) {
            self.handler = handler
            self.host = host
        }
    }

    static func create(
        _ host: UnsafePointer<gw_host_api>?, _ config: gw_bytes, _ instance: UnsafeMutablePointer<UnsafeMutableRawPointer?>?,
        _ out: UnsafePointer<gw_output>?
    ) -> Int32 {
        guard let host, let instance, let def = definition else {
            report(out, "plugin called without a host table")
            return GW_FAIL
        }
        let data = config.ptr.map { Data(bytes: $0, count: config.len) } ?? Data()
        do {
            let h = PluginHost(api: host)
            let cfg = try PluginConfig(json: data)
            let handler = try def.make(cfg, h)
            instance.pointee = Unmanaged.passRetained(Instance(handler: handler, host: h)).toOpaque()
            return GW_OK
        } catch let e as PluginConfigError {
            report(out, e.message)
        } catch {
            report(out, "invalid configuration: \(error)")
        }
        return GW_FAIL
    }

    static func handle(_ instance: UnsafeMutableRawPointer?, _ event: UnsafePointer<gw_event>?, _ out: UnsafePointer<gw_output>?) -> Int32 {
        guard let instance, let event else {
            report(out, "plugin called without an instance or event")
            return GW_FAIL
        }
        let inst = Unmanaged<Instance>.fromOpaque(instance).takeUnretainedValue()
        // No Swift error can cross the C boundary: `handle` returns a value, never throws.
        switch inst.handler.handle(PluginEvent(raw: event, host: inst.host)) {
        case .proceed(let body):
            if let body, let out, let set = out.pointee.set_body {
                body.withUnsafeBufferPointer { set(out.pointee.ctx, gw_bytes(ptr: $0.baseAddress, len: $0.count)) }
            }
            return GW_CONTINUE
        case .drop:
            return GW_DROP
        case .retry(let reason, let after):
            report(out, reason)
            if after > 0, let out, let set = out.pointee.set_retry_after_ms { set(out.pointee.ctx, after) }
            return GW_RETRY
        case .fail(let reason):
            report(out, reason)
            return GW_FAIL
        }
    }

    static func destroy(_ instance: UnsafeMutableRawPointer?) {
        guard let instance else { return }
        Unmanaged<Instance>.fromOpaque(instance).release()
    }

    static func report(_ out: UnsafePointer<gw_output>?, _ reason: String) {
        guard let out, let set = out.pointee.set_reason else { return }
        var r = reason
        r.withUTF8 { set(out.pointee.ctx, gw_bytes(ptr: $0.baseAddress, len: $0.count)) }
    }
}
