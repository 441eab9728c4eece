import Foundation
import GatewayCore
import Glibc
import Synchronization

/// A running `gateway` binary for integration tests: started with a config written to a fresh
/// temporary directory, its stdout collected line by line, stopped with SIGTERM (then SIGKILL)
/// within a bounded time.
///
/// `SWIFT_BACKTRACE=enable=no` is set so a crash cannot leave swift-backtrace holding our pipes.
/// The root of this process's temporary directories, created on first use and removed at exit.
extension String {
    /// `GatewayProcess.writeAtomically(self, to: path)`.
    public func writeAtomically(to path: String) throws { try GatewayProcess.writeAtomically(self, to: path) }
}

private let testRoot: String = {
    let root = FileManager.default.temporaryDirectory.appendingPathComponent("gw-tests-\(getpid())").path
    try? FileManager.default.removeItem(atPath: root)  // a previous process with the same pid
    try? FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
    atexit { try? FileManager.default.removeItem(atPath: testRoot) }
    return root
}()

public final class GatewayProcess: @unchecked Sendable {
    // Unchecked: `process` is only used from the test's thread; `lines` is behind a Mutex.

    public let directory: URL
    public let configPath: String
    private let process = Process()
    private let lines = Locked<[String]>([])  // pthread-based: visible to ThreadSanitizer
    private let newLine = DispatchSemaphore(value: 0)
    public private(set) var port = 0
    public private(set) var adminPort = 0

    /// The built `gateway` executable: `$GATEWAY_BIN`, or next to the test bundle.
    public static var binary: String {
        if let b = ProcessInfo.processInfo.environment["GATEWAY_BIN"] { return b }
        let me = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        var dir = me.deletingLastPathComponent()
        for _ in 0..<4 {
            let candidate = dir.appendingPathComponent("gateway").path
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
            dir = dir.deletingLastPathComponent()
        }
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        return root.appendingPathComponent(".build/debug/gateway").path
    }

    /// A fresh directory under this test process's own root (`$TMPDIR/gw-tests-PID`), which is
    /// removed when the process exits. Tests that forget to clean up, or fail before they do,
    /// leave nothing behind in `/tmp` (a full run used to leave some 1,000 directories there).
    public static func makeTempDirectory(_ tag: String = "gw") throws -> URL {
        let dir = URL(fileURLWithPath: testRoot).appendingPathComponent("\(tag)-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir
    }

    /// Writes `text` to `path` through a temporary file in the same directory and a rename, so
    /// that a reloading gateway never reads half a file. (Foundation's `atomically: true` does
    /// the same on Linux but leaves an empty `TemporaryDirectory.*` in `/tmp` each time.)
    public static func writeAtomically(_ text: String, to path: String) throws {
        let temporary = path + ".tmp-\(UUID().uuidString.prefix(8))"
        try Data(text.utf8).write(to: URL(fileURLWithPath: temporary))
        guard rename(temporary, path) == 0 else {
            let code = errno
            unlink(temporary)
            throw CocoaError(.fileWriteUnknown, userInfo: [NSLocalizedDescriptionKey: "rename to \(path): errno \(code)"])
        }
    }

    /// Writes `config` (with `@DIR@` replaced by the temp directory) and starts the gateway.
    /// - Parameter shellPrefix: run through `/bin/sh -c "<prefix>; exec gateway ..."` (e.g. `ulimit -Hn 64`).
    public init(
        config: String, extraFiles: [String: String] = [:], environment: [String: String] = [:], shellPrefix: String? = nil,
        arguments: [String]? = nil, directory reuse: URL? = nil
    ) throws {
        directory = try reuse ?? GatewayProcess.makeTempDirectory()
        let text = config.replacing("@DIR@", with: directory.path)
        configPath = directory.appendingPathComponent("gateway.yaml").path
        try GatewayProcess.writeAtomically(text, to: configPath)
        for (name, content) in extraFiles {
            try GatewayProcess.writeAtomically(content, to: directory.appendingPathComponent(name).path)
        }
        let args = arguments ?? ["serve", "--config", configPath]
        if let shellPrefix {
            process.executableURL = URL(fileURLWithPath: "/bin/sh")
            let quoted = ([GatewayProcess.binary] + args).map { "'\($0)'" }.joined(separator: " ")
            process.arguments = ["-c", "\(shellPrefix); exec \(quoted)"]
        } else {
            process.executableURL = URL(fileURLWithPath: GatewayProcess.binary)
            process.arguments = args
        }
        var env = ProcessInfo.processInfo.environment
        env["SWIFT_BACKTRACE"] = "enable=no"
        for (k, v) in environment { env[k] = v }
        process.environment = env
        let out = Pipe()
        process.standardOutput = out
        process.standardError = out
        let handle = out.fileHandleForReading
        try process.run()
        let t = Thread { [self] in readLines(handle) }
        t.start()
    }

    private func readLines(_ handle: FileHandle) {
        var pending = Data()
        while true {
            let chunk = readChunk(handle.fileDescriptor)
            if chunk.isEmpty { break }
            pending.append(chunk)
            while let nl = pending.firstIndex(of: 0x0A) {
                let line = String(decoding: pending[pending.startIndex..<nl], as: UTF8.self)
                pending = Data(pending[(nl + 1)...])
                lines.withLock { $0.append(line) }
                newLine.signal()
            }
        }
        if !pending.isEmpty { lines.withLock { $0.append(String(decoding: pending, as: UTF8.self)) } }
        newLine.signal()
    }

    /// Everything the gateway printed so far.
    public var output: [String] { lines.withLock { $0 } }

    /// Waits until a line satisfies `predicate`; returns it, or nil after `timeout` seconds.
    public func waitForLine(timeout: Double = 20, _ predicate: (String) -> Bool) -> String? {
        let deadline = Date().addingTimeInterval(timeout)
        var seen = 0
        while true {
            let snapshot = lines.withLock { $0 }
            for l in snapshot[seen...] where predicate(l) { return l }
            seen = snapshot.count
            if Date() >= deadline { return nil }
            if !process.isRunning && snapshot.count == lines.withLock({ $0.count }) {
                _ = newLine.wait(timeout: .now() + .milliseconds(50))
                let again = lines.withLock { $0 }
                if again.count == seen { return again[seen...].first(where: predicate) }
                continue
            }
            _ = newLine.wait(timeout: .now() + .milliseconds(200))
        }
    }

    /// Waits for the "gateway listening" line and records the ports.
    public func waitUntilListening(timeout: Double = 20) throws {
        guard let line = waitForLine(timeout: timeout, { $0.contains("\"gateway listening\"") }) else {
            throw TestKitError("gateway did not start listening; output:\n" + output.joined(separator: "\n"))
        }
        port = GatewayProcess.port(in: line, key: "listen") ?? 0
        adminPort = GatewayProcess.port(in: line, key: "admin") ?? 0
    }

    static func port(in line: String, key: String) -> Int? {
        guard let r = line.firstRange(of: "\"\(key)\":\"") else { return nil }
        let rest = line[r.upperBound...]
        guard let end = rest.firstIndex(of: "\""), let colon = rest[..<end].lastIndex(of: ":") else { return nil }
        return Int(rest[rest.index(after: colon)..<end])
    }

    public var pid: Int32 { process.processIdentifier }
    public var isRunning: Bool { process.isRunning }

    public func signal(_ sig: Int32) { kill(process.processIdentifier, sig) }

    /// Waits for exit within `timeout` seconds; returns the exit status, or nil if still running.
    public func waitForExit(timeout: Double = 15) -> Int32? {
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline { usleep(20_000) }
        return process.isRunning ? nil : process.terminationStatus
    }

    /// SIGTERM, then SIGKILL if it does not exit in time; removes the temp directory unless told
    /// to keep it (for a restart on the same spool).
    public func stop(keepDirectory: Bool = false) {
        if process.isRunning {
            signal(SIGTERM)
            if waitForExit(timeout: 10) == nil {
                signal(SIGKILL)
                _ = waitForExit(timeout: 5)
            }
        }
        if !keepDirectory { try? FileManager.default.removeItem(at: directory) }
    }

    /// `kill -9`: no chance to flush or close anything.
    public func crash() {
        signal(SIGKILL)
        _ = waitForExit(timeout: 10)
    }

    /// CPU time (user + system) the process has used, in seconds, from /proc.
    public var cpuSeconds: Double {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = stat.lastIndex(of: ")")
        else { return 0 }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        guard fields.count > 13, let u = Double(fields[11]), let s = Double(fields[12]) else { return 0 }
        return (u + s) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    /// The names of the process's threads as the kernel shows them (`/proc/PID/task/*/comm`).
    public var threadNames: [String] {
        let dir = "/proc/\(pid)/task"
        let tasks = (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []
        return tasks.compactMap { try? String(contentsOfFile: "\(dir)/\($0)/comm", encoding: .utf8) }
            .map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }.sorted()
    }

    /// Resident memory in KiB, from /proc.
    public var rssKiB: Int {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return 0 }
        for line in status.split(separator: "\n") where line.hasPrefix("VmRSS:") {
            return Int(line.split(separator: " ").dropFirst().first ?? "") ?? 0
        }
        return 0
    }
}

public struct TestKitError: Error, CustomStringConvertible {
    public var description: String
    public init(_ d: String) { description = d }
}

/// Runs the gateway binary to completion (for `check`, `send`), with a time bound.
public func runGateway(_ args: [String], environment: [String: String] = [:], timeout: Double = 30) throws -> (status: Int32, output: String) {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: GatewayProcess.binary)
    p.arguments = args
    var env = ProcessInfo.processInfo.environment
    env["SWIFT_BACKTRACE"] = "enable=no"
    for (k, v) in environment { env[k] = v }
    p.environment = env
    let out = Pipe()
    p.standardOutput = out
    p.standardError = out
    try p.run()
    let data = Locked(Data())
    let done = DispatchSemaphore(value: 0)
    let handle = out.fileHandleForReading
    Thread {
        var d = Data()
        while true {
            let chunk = readChunk(handle.fileDescriptor)
            if chunk.isEmpty { break }
            d.append(chunk)
        }
        data.withLock { [d] in $0 = d }
        done.signal()
    }.start()
    let deadline = Date().addingTimeInterval(timeout)
    while p.isRunning && Date() < deadline { usleep(10_000) }
    if p.isRunning {
        kill(p.processIdentifier, SIGKILL)
        throw TestKitError("gateway \(args.first ?? "") did not finish within \(timeout)s")
    }
    _ = done.wait(timeout: .now() + 5)
    return (p.terminationStatus, String(decoding: data.withLock { $0 }, as: UTF8.self))
}

/// One read from a pipe, retried on EINTR; empty at end of file (or on an error). Foundation's
/// `FileHandle.availableData` traps on EINTR, which a child exiting (SIGCHLD) can cause.
public func readChunk(_ fd: Int32) -> Data {
    var buf = [UInt8](repeating: 0, count: 64 << 10)
    while true {
        let n = buf.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        if n > 0 { return Data(buf[0..<n]) }
        if n < 0 && errno == EINTR { continue }
        return Data()
    }
}
