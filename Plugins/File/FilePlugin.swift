public import CGatewayPluginABI
import Foundation
import GatewayPluginKit
import Glibc

/// `file`: appends each event as one JSON line to a file.
///
/// ```yaml
/// - plugin: file
///   with: { path: "/var/log/gateway/{route}/{date}.jsonl", fsync: false }
/// ```
/// `path` may hold `{eventCode}`, `{route}`, `{date}` (UTC yyyy-mm-dd); directories are created
/// (mode 0750), files are created with mode 0600. One `write` per line under a per-file lock, on
/// an `O_APPEND` descriptor: lines from concurrent deliveries never interleave.
@_cdecl("gw_plugin_register_v1")
public func gwPluginRegisterV1(_ table: UnsafeMutablePointer<gw_plugin_v1>?, _ size: UInt32) -> Int32 {
    PluginRegistry.register(FileHandler.definition, table: table, size: size)
}

final class FileHandler: GatewayHandler, @unchecked Sendable {
    // Unchecked: mutable state (open files) is behind `lock`; the rest is immutable.

    static let definition = PluginDefinition(
        name: "file", description: "appends each event as a JSON line to a file"
    ) { config, host in try FileHandler(config: config, host: host) }

    let pathTemplate: String
    /// The template split once into text and placeholders.
    let parts: [Part]
    let hasPlaceholders: Bool
    let fsync: Bool
    let host: PluginHost
    private let lock = NSLock()
    /// Open descriptors by resolved path (a few: one per route/date/eventCode combination).
    private var files: [String: Int32] = [:]
    private var order: [String] = []
    private static let maxOpen = 64

    init(config: PluginConfig, host: PluginHost) throws {
        var c = config
        pathTemplate = try c.requiredString("path")
        fsync = try c.bool("fsync", default: false)
        try c.finish()
        for token in FileHandler.placeholders(in: pathTemplate) where !["eventCode", "route", "date"].contains(token) {
            throw PluginConfigError("with.path: unknown placeholder {\(token)}; use {eventCode}, {route} or {date}")
        }
        self.host = host
        parts = FileHandler.parse(pathTemplate)
        hasPlaceholders = parts.contains { if case .literal = $0 { false } else { true } }
    }

    deinit {
        for fd in files.values { close(fd) }
    }

    static func placeholders(in s: String) -> [String] {
        var out: [String] = []
        var rest = Substring(s)
        while let open = rest.firstIndex(of: "{"), let close = rest[open...].firstIndex(of: "}") {
            out.append(String(rest[rest.index(after: open)..<close]))
            rest = rest[rest.index(after: close)...]
        }
        return out
    }

    /// A path component from event data: no separators, no `..`, nothing hidden; at most 64
    /// bytes (cut at a character boundary).
    ///
    /// On the UTF-8 bytes, returning `s` itself when it is already safe: mapping the String's
    /// Characters (grapheme clusters) and building a new String cost 12,000 instructions per
    /// event, more than the rest of the file route's work together.
    static func safeComponent(_ s: String) -> String {
        var copy = s
        return copy.withUTF8 { u -> String in
            let bad: (UInt8) -> Bool = { $0 == UInt8(ascii: "/") || $0 == 0 || $0 == UInt8(ascii: "\\") }
            var end = min(u.count, 64)
            while end < u.count && end > 0 && u[end] & 0xC0 == 0x80 { end -= 1 }  // not inside a character
            let hidden = end == 0 || u[0] == UInt8(ascii: ".")
            if end == u.count && !hidden && !u.contains(where: bad) { return s }
            var out: [UInt8] = hidden ? [UInt8(ascii: "_")] : []
            out.reserveCapacity(end + 1)
            for b in u[0..<end] { out.append(bad(b) ? UInt8(ascii: "_") : b) }
            return String(decoding: out, as: UTF8.self)
        }
    }

    /// The file for this event: the template with its placeholders filled (no work when it has none).
    func resolve(_ event: PluginEvent) -> String {
        guard hasPlaceholders else { return pathTemplate }
        var out = ""
        for part in parts {
            switch part {
            case .literal(let s): out += s
            case .eventCode: out += FileHandler.safeComponent(event.eventCode)
            case .route: out += FileHandler.safeComponent(event.route)
            case .date: out += FileHandler.utcDate()
            }
        }
        return out
    }

    enum Part {
        case literal(String), eventCode, route, date
    }

    static func parse(_ pathTemplate: String) -> [Part] {
        var out: [Part] = []
        var rest = Substring(pathTemplate)
        while let open = rest.firstIndex(of: "{"), let close = rest[open...].firstIndex(of: "}") {
            if open > rest.startIndex { out.append(.literal(String(rest[..<open]))) }
            switch rest[rest.index(after: open)..<close] {
            case "eventCode": out.append(.eventCode)
            case "route": out.append(.route)
            default: out.append(.date)
            }
            rest = rest[rest.index(after: close)...]
        }
        if !rest.isEmpty { out.append(.literal(String(rest))) }
        return out
    }


    /// Today's UTC date as yyyy-mm-dd.
    static func utcDate() -> String {
        var t = time(nil)
        var tmv = tm()
        gmtime_r(&t, &tmv)
        func two(_ v: Int32) -> String { v < 10 ? "0\(v)" : "\(v)" }
        return "\(tmv.tm_year + 1900)-\(two(tmv.tm_mon + 1))-\(two(tmv.tm_mday))"
    }

    func handle(_ event: PluginEvent) -> HandlerResult {
        let path = resolve(event)
        let body = event.body
        // A body without line breaks (all the gateway writes) goes out as it is, with the newline
        // beside it in one writev: copying 2 KB into a new line first cost an allocation too
        // large for the allocator's per-thread cache on every delivery.
        let plain = body.baseAddress.map { memchr($0, 0x0A, body.count) == nil && memchr($0, 0x0D, body.count) == nil } ?? true
        let stripped = plain ? nil : FileHandler.withoutLineBreaks(body)
        lock.lock()
        defer { lock.unlock() }
        let fd: Int32
        switch descriptor(for: path) {
        case .success(let d): fd = d
        case .failure(let e): return .retry(e.message)
        }
        let failed = stripped.map { s in s.withUnsafeBytes { FileHandler.writeLine(fd, $0) } } ?? FileHandler.writeLine(fd, body)
        if failed != 0 {
            let reason = "write \(path): \(String(cString: strerror(failed)))"
            closeFile(path)
            return .retry(reason)
        }
        if fsync && fdatasync(fd) != 0 {
            let reason = "fdatasync \(path): \(String(cString: strerror(errno)))"
            closeFile(path)
            return .retry(reason)
        }
        return .proceed()
    }

    /// Writes `bytes` and a line feed, all of it: one writev, then plain writes for whatever a
    /// short write left (the caller's lock keeps other lines out of the middle). 0, or the
    /// errno of the write that failed.
    static func writeLine(_ fd: Int32, _ bytes: UnsafeRawBufferPointer) -> Int32 {
        var lf: UInt8 = 0x0A
        var done = 0
        let total = bytes.count + 1
        while done < total {
            let n: Int
            if done < bytes.count, let base = bytes.baseAddress {
                n = withUnsafeMutablePointer(to: &lf) { lfp in
                    var iov = (
                        iovec(iov_base: UnsafeMutableRawPointer(mutating: base + done), iov_len: bytes.count - done),
                        iovec(iov_base: UnsafeMutableRawPointer(lfp), iov_len: 1))
                    return withUnsafeMutableBytes(of: &iov) { writev(fd, $0.baseAddress?.assumingMemoryBound(to: iovec.self), 2) }
                }
            } else {
                n = write(fd, &lf, 1)
            }
            if n > 0 {
                done += n
            } else if n < 0 && errno == EINTR {
                continue
            } else {
                return n < 0 ? errno : EIO
            }
        }
        return 0
    }

    /// A body with raw line breaks, without them (JSON needs none: inside strings they are
    /// escaped). Only a body passed through as the provider formatted it has any; the JSON the
    /// gateway writes goes out as it is (see `handle`).
    static func withoutLineBreaks(_ body: UnsafeRawBufferPointer) -> [UInt8] {
        body.filter { $0 != 0x0A && $0 != 0x0D }
    }

    /// The open descriptor for `path`, opening (and creating directories) when needed. Lock held.
    private func descriptor(for path: String) -> Result<Int32, PluginConfigError> {
        if let fd = files[path] { return .success(fd) }
        let dir = (path as NSString).deletingLastPathComponent
        if !dir.isEmpty && !FileManager.default.fileExists(atPath: dir) {
            do {
                try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o750])
            } catch {
                return .failure(PluginConfigError("cannot create directory \(dir): \(error.localizedDescription)"))
            }
        }
        let fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { return .failure(PluginConfigError("open \(path): \(String(cString: strerror(errno)))")) }
        if files.count >= FileHandler.maxOpen, let oldest = order.first { closeFile(oldest) }
        files[path] = fd
        order.append(path)
        return .success(fd)
    }

    private func closeFile(_ path: String) {
        if let fd = files.removeValue(forKey: path) { close(fd) }
        order.removeAll { $0 == path }
    }
}
