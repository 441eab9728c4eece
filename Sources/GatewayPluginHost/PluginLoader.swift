import CGatewayPluginABI
import Foundation
import GatewayCore
import Glibc
import Synchronization

/// Finds, checks and loads handler plugins. The only code that calls dlopen/dlsym.
///
/// A plugin is loaded once per process and never unloaded (Swift code cannot be unloaded safely);
/// loading the same file again returns the cached table. A changed plugin file therefore takes
/// effect on restart.
public enum PluginLoader {
    private static let cache = Locked<[String: LoadedPlugin]>([:])

    /// The file name for plugin `name`.
    public static func fileName(for name: String) -> String { "libgwplugin-\(name).so" }

    /// The directory of the running executable (the default search path).
    public static var executableDirectory: String {
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        return (exe as NSString).deletingLastPathComponent
    }

    /// Loads plugin `name` from the first directory of `searchPath` that has it.
    public static func load(name: String, searchPath: [String]) throws(PluginError) -> LoadedPlugin {
        let dirs = searchPath.isEmpty ? [executableDirectory] : searchPath
        let file = fileName(for: name)
        guard let dir = dirs.first(where: { FileManager.default.fileExists(atPath: $0 + "/" + file) }) else {
            throw PluginError("plugin '\(name)' not found: no \(file) in \(dirs.joined(separator: ", "))")
        }
        let path = (dir as NSString).appendingPathComponent(file)
        let resolved = (try? FileManager.default.destinationOfSymbolicLink(atPath: path)).map {
            $0.hasPrefix("/") ? $0 : (dir as NSString).appendingPathComponent($0)
        } ?? path
        if let cached = cache.withLock({ $0[resolved] }) { return cached }
        try checkPermissions(file: path, directory: dir)
        return try cache.withLock { c throws(PluginError) -> LoadedPlugin in
            if let cached = c[resolved] { return cached }
            let loaded = try open(path: path, expectedName: name)
            c[resolved] = loaded
            return loaded
        }
    }

    /// A plugin runs inside the gateway with its privileges: refuse files (and directories) that
    /// someone else could replace. `stat` follows symlinks, so `.build/release` (a symlink) and
    /// its target are both checked.
    static func checkPermissions(file: String, directory: String) throws(PluginError) {
        var st = stat()
        guard stat(file, &st) == 0 else { throw PluginError("cannot stat \(file): \(String(cString: strerror(errno)))") }
        guard st.st_mode & S_IFMT == S_IFREG else { throw PluginError("\(file) is not a regular file") }
        if st.st_mode & (S_IWGRP | S_IWOTH) != 0 {
            throw PluginError("\(file) is writable by other users (mode \(String(st.st_mode & 0o777, radix: 8))); refusing to load it")
        }
        let uid = getuid()
        if st.st_uid != uid && st.st_uid != 0 {
            throw PluginError("\(file) belongs to another user (uid \(st.st_uid)); refusing to load it")
        }
        var dst = stat()
        guard stat(directory, &dst) == 0 else { throw PluginError("cannot stat \(directory)") }
        if dst.st_mode & S_IWOTH != 0 && dst.st_mode & S_ISVTX == 0 {
            throw PluginError("plugin directory \(directory) is writable by other users; refusing to load plugins from it")
        }
    }

    private static func open(path: String, expectedName: String) throws(PluginError) -> LoadedPlugin {
        _ = dlerror()
        guard let image = dlopen(path, RTLD_NOW | RTLD_LOCAL) else {
            let reason = dlerror().map { String(cString: $0) } ?? "unknown error"
            throw PluginError("cannot load \(path): \(reason)")
        }
        // From here on the image stays loaded even on error: dlclose of Swift code is unsafe.
        guard let symbol = dlsym(image, GW_PLUGIN_REGISTER_SYMBOL) else {
            throw PluginError("\(path) is not a gateway plugin: it has no \(GW_PLUGIN_REGISTER_SYMBOL) symbol")
        }
        typealias Register = @convention(c) (UnsafeMutablePointer<gw_plugin_v1>?, UInt32) -> Int32
        let register = unsafeBitCast(symbol, to: Register.self)
        let table = UnsafeMutablePointer<gw_plugin_v1>.allocate(capacity: 1)
        table.initialize(to: gw_plugin_v1())
        let status = register(table, UInt32(MemoryLayout<gw_plugin_v1>.size))
        let t = table.pointee
        var accepted = false
        // The table lives as long as the plugin (forever) once accepted; freed when refused.
        defer { if !accepted { table.deallocate() } }
        guard status == GW_OK else { throw PluginError("\(path): the plugin refused to register (status \(status))") }
        guard t.abi_version == UInt32(GW_PLUGIN_ABI_VERSION) else {
            throw PluginError("\(path) was built for plugin ABI version \(t.abi_version); this gateway speaks version \(GW_PLUGIN_ABI_VERSION)")
        }
        guard Int(t.struct_size) >= PluginLoader.baseTableSize else {
            throw PluginError("\(path): plugin table is too small (\(t.struct_size) bytes)")
        }
        guard let namePtr = t.name else { throw PluginError("\(path): the plugin has no name") }
        let name = String(cString: namePtr)
        guard name == expectedName else {
            throw PluginError("\(path) calls itself '\(name)', not '\(expectedName)'")
        }
        guard t.create != nil, t.handle != nil, t.destroy != nil else {
            throw PluginError("\(path): the plugin table lacks create, handle or destroy")
        }
        let description = t.description.map { String(cString: $0) } ?? ""
        accepted = true
        // `flags` was appended to the table: a plugin built before knows nothing of it.
        let flags = Int(t.struct_size) >= MemoryLayout<gw_plugin_v1>.size ? t.flags : 0
        return LoadedPlugin(name: name, path: path, description: description, table: table, flags: flags)
    }

    /// The smallest plugin table accepted: `gw_plugin_v1` before `flags` was appended.
    static let baseTableSize = MemoryLayout<gw_plugin_v1>.offset(of: \gw_plugin_v1.flags) ?? MemoryLayout<gw_plugin_v1>.size
}

/// A loaded plugin's table. Lives for the process.
public final class LoadedPlugin: @unchecked Sendable {
    // Unchecked: `table` is written once by the plugin's register function, then only read.
    public let name: String
    public let path: String
    public let description: String
    let table: UnsafeMutablePointer<gw_plugin_v1>
    /// The services table given to this plugin's instances (its host_ctx names the plugin).
    let hostAPI: UnsafeMutablePointer<gw_host_api>
    /// The plugin declared that its handle() never blocks (`GW_PLUGIN_NONBLOCKING`): the host may
    /// run it on the threads that receive notifications instead of handing events to a worker.
    public let isNonBlocking: Bool
    /// The plugin reads events only through `event_value`, never their body
    /// (`GW_PLUGIN_BODY_UNUSED`): the host may pass an empty body and skip serializing one.
    public let readsBody: Bool
    /// The plugin declared `GW_PLUGIN_PURE` as well as `GW_PLUGIN_NONBLOCKING`: it decides from
    /// the event alone and does nothing else, so the host may call it before the notification
    /// is stored (a route's screening handlers; see `CompiledRoute.screeningHandlers`).
    public let isPure: Bool

    init(name: String, path: String, description: String, table: UnsafeMutablePointer<gw_plugin_v1>, flags: UInt32 = 0) {
        self.name = name
        self.path = path
        self.description = description
        self.table = table
        self.isNonBlocking = flags & GW_PLUGIN_NONBLOCKING != 0
        self.readsBody = flags & GW_PLUGIN_BODY_UNUSED == 0
        self.isPure = flags & GW_PLUGIN_PURE != 0 && flags & GW_PLUGIN_NONBLOCKING != 0
        self.hostAPI = HostServices.makeTable(pluginName: name)
    }

    /// Creates an instance for one handler entry; the plugin validates its `with:` block.
    public func makeInstance(configJSON: [UInt8]) throws(PluginError) -> PluginInstance {
        guard let create = table.pointee.create else { throw PluginError("plugin \(name) cannot create instances") }
        let collector = OutputCollector()
        var instance: UnsafeMutableRawPointer? = nil
        let status = configJSON.withUnsafeBufferPointer { cfg in
            collector.withOutput { out in
                create(hostAPI, gw_bytes(ptr: cfg.baseAddress, len: cfg.count), &instance, out)
            }
        }
        guard status == GW_OK, let instance else {
            throw PluginError(collector.reason ?? "plugin \(name) refused its configuration")
        }
        return PluginInstance(plugin: self, instance: instance)
    }
}
