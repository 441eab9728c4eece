public import CGatewayPluginABI
import CSystem
import Foundation
import GatewayPluginKit
import Glibc

/// `shell`: runs a program for each event, without a shell.
///
/// ```yaml
/// - plugin: shell
///   with:
///     command: [/opt/legacy/refund.sh, "--order", "{{payment.merchantTransInfo.merchantTransID}}"]
///     env: { ORDER_STATUS: "{{payment.status}}" }
///     timeoutMs: 10000          # default 30000; then the whole process group is killed
///     maxConcurrent: 8          # default 8; more deliveries wait their turn
///     workingDirectory: /opt/legacy
///     maxOutputBytes: 65536     # stdout/stderr kept for the log, per stream
///     user: legacy              # optional, when the gateway runs as root: run as this user
///     group: legacy             # optional (default: the user's primary group)
/// ```
/// The program is started with `posix_spawn`, never through `/bin/sh`: each argv element is
/// rendered on its own, so a value such as `; rm -rf / $(id)` stays one inert argument. The event
/// JSON goes to stdin. The environment is clean: `PATH=/usr/local/bin:/usr/bin:/bin`, the
/// configured `env`, and `GATEWAY_EVENT_CODE`, `GATEWAY_ROUTE`, `GATEWAY_MSG_ID`,
/// `GATEWAY_DELIVERY_ID`, `GATEWAY_ATTEMPT`. Exit status 0 = delivered; anything else, a signal or
/// the timeout = a failed attempt (retried by the route's policy).
@_cdecl("gw_plugin_register_v1")
public func gwPluginRegisterV1(_ table: UnsafeMutablePointer<gw_plugin_v1>?, _ size: UInt32) -> Int32 {
    PluginRegistry.register(ShellHook.definition, table: table, size: size)
}

final class ShellHook: GatewayHandler, @unchecked Sendable {
    // Unchecked: immutable after init; `slots` is a thread-safe semaphore.

    static let definition = PluginDefinition(
        name: "shell", description: "runs a program (no shell) with the event on stdin"
    ) { config, host in try ShellHook(config: config, host: host) }

    let program: String
    let argv: [PluginTemplate]
    let env: [(String, PluginTemplate)]
    let timeoutMs: Int
    let maxOutputBytes: Int
    let workingDirectory: String?
    /// `user`/`group`: the identity the program runs as (nil: the gateway's).
    let credentials: (uid: uid_t, gid: gid_t)?
    let slots: DispatchSemaphore
    let host: PluginHost

    init(config: PluginConfig, host: PluginHost) throws {
        var c = config
        guard let command = try c.stringList("command"), let first = command.first, !first.isEmpty else {
            throw PluginConfigError("with.command must be a list: [program, arg, ...]")
        }
        guard !first.contains("{{") else { throw PluginConfigError("with.command: the program itself cannot be a template") }
        program = first
        argv = try command.map(PluginTemplate.init)
        var e: [(String, PluginTemplate)] = []
        for (name, value) in try c.stringMap("env") ?? [] {
            guard !name.isEmpty, name.utf8.allSatisfy({ ($0 >= 0x41 && $0 <= 0x5A) || ($0 >= 0x61 && $0 <= 0x7A) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x5F }) else {
                throw PluginConfigError("with.env: '\(name)' is not a valid variable name")
            }
            guard !name.hasPrefix("GATEWAY_") else { throw PluginConfigError("with.env: GATEWAY_ variables are set by the gateway") }
            e.append((name, try PluginTemplate(value)))
        }
        env = e
        timeoutMs = try c.int("timeoutMs", default: 30_000, min: 1, max: 3_600_000)
        let concurrent = try c.int("maxConcurrent", default: 8, min: 1, max: 1024)
        maxOutputBytes = try c.int("maxOutputBytes", default: 64 << 10, min: 0, max: 16 << 20)
        workingDirectory = try c.string("workingDirectory")
        let user = try c.string("user")
        let group = try c.string("group")
        try c.finish()
        if user != nil || group != nil {
            guard geteuid() == 0 else {
                throw PluginConfigError("with.user/with.group need the gateway to run as root (it cannot switch users otherwise)")
            }
            var uid = geteuid()
            var gid = getegid()
            if let user {
                guard gw_lookup_user(user, &uid, &gid) == 0 else { throw PluginConfigError("with.user: no user '\(user)'") }
            }
            if let group {
                guard gw_lookup_group(group, &gid) == 0 else { throw PluginConfigError("with.group: no group '\(group)'") }
            }
            credentials = (uid, gid)
        } else {
            credentials = nil
        }
        if program.hasPrefix("/") {
            guard access(program, X_OK) == 0 else { throw PluginConfigError("with.command: '\(program)' is not an executable file") }
        }
        if let wd = workingDirectory {
            var isDir: ObjCBool = false
            guard FileManager.default.fileExists(atPath: wd, isDirectory: &isDir), isDir.boolValue else {
                throw PluginConfigError("with.workingDirectory: '\(wd)' is not a directory")
            }
        }
        slots = DispatchSemaphore(value: concurrent)
        self.host = host
    }

    func handle(_ event: PluginEvent) -> HandlerResult {
        let args = argv.map { event.render($0) }
        var environment = ["PATH=/usr/local/bin:/usr/bin:/bin"]
        environment += env.map { "\($0.0)=\(event.render($0.1))" }
        environment += [
            "GATEWAY_EVENT_CODE=\(event.eventCode)", "GATEWAY_ROUTE=\(event.route)", "GATEWAY_MSG_ID=\(event.msgID)",
            "GATEWAY_DELIVERY_ID=\(event.deliveryID)", "GATEWAY_ATTEMPT=\(event.attempt)", "GATEWAY_SOURCE=\(event.source)",
        ]
        // A value with a NUL byte cannot be passed to a program faithfully: refuse, do not truncate.
        if args.contains(where: { $0.utf8.contains(0) }) || environment.contains(where: { $0.utf8.contains(0) }) {
            return .fail("an argument or variable would contain a NUL byte")
        }
        slots.wait()
        defer { slots.signal() }
        let run = ProcessRunner.run(
            program: program, arguments: args, environment: environment, workingDirectory: workingDirectory,
            stdin: event.bodyBytes, timeoutMs: timeoutMs, maxOutputBytes: maxOutputBytes, credentials: credentials)
        let out = Self.tail(run.stdout)
        let err = Self.tail(run.stderr)
        switch run.outcome {
        case .exited(0):
            if !out.isEmpty || !err.isEmpty {
                host.log(.debug, "shell hook output: route=\(event.route) stdout=\(out) stderr=\(err)")
            }
            return .proceed()
        case .exited(let code):
            host.log(.warning, "shell hook failed: route=\(event.route) exit=\(code) stdout=\(out) stderr=\(err)")
            return .retry("exit status \(code)")
        case .signaled(let sig):
            host.log(.warning, "shell hook killed: route=\(event.route) signal=\(sig) stderr=\(err)")
            return .retry("killed by signal \(sig)")
        case .timedOut:
            host.log(.warning, "shell hook timed out: route=\(event.route) after \(timeoutMs) ms; process group killed")
            return .retry("timed out after \(timeoutMs) ms")
        case .spawnFailed(let reason):
            return .retry("cannot start \(program): \(reason)")
        }
    }

    /// Captured output as one log-safe line (the log redacts it again).
    static func tail(_ bytes: [UInt8]) -> String {
        let s = String(decoding: bytes.suffix(2048), as: UTF8.self)
        return s.replacingOccurrences(of: "\n", with: "\\n").trimmingCharacters(in: .whitespacesAndNewlines)
    }
}
