/// Argument parsing for the `gateway` executable (no dependency: a few subcommands with flags).
public enum GatewayCommandLine {
    public static let version = "0.1.0"

    public static let usage = """
        gateway \(version): a webhook gateway for EVO Cloud payment notifications

        usage:
          gateway serve --config FILE     run the gateway
          gateway check --config FILE     validate a configuration and print a summary
          gateway send --url URL ...      sign and send one notification (see gateway send --help)
          gateway route --config FILE EVENT.json [--source NAME]
                                          dry run: which routes take the event, and what they send
          gateway deadletter list|replay|purge --config FILE [--route R] [--id ID] [--older-than D]
                                          inspect, re-deliver or delete dead letters (also while it runs)
          gateway version                 print the version

        """

    /// Runs the command in `args` (without the program name); returns the exit status.
    public static func main(_ args: [String]) -> Int32 {
        guard let command = args.first else {
            printError(usage)
            return 2
        }
        let rest = Array(args.dropFirst())
        switch command {
        case "serve", "check":
            guard let path = configPath(rest, command: command) else { return 2 }
            return command == "serve" ? ServeCommand.run(configPath: path) : CheckCommand.run(configPath: path)
        case "route":
            var config: String? = nil
            var source: String? = nil
            var event: String? = nil
            var i = 0
            while i < rest.count {
                switch rest[i] {
                case "--config", "-c", "--source":
                    guard i + 1 < rest.count else {
                        printError("gateway route: \(rest[i]) needs a value")
                        return 2
                    }
                    if rest[i] == "--source" { source = rest[i + 1] } else { config = rest[i + 1] }
                    i += 2
                default:
                    guard event == nil, !rest[i].hasPrefix("--") else {
                        printError("gateway route: unexpected argument '\(rest[i])'")
                        return 2
                    }
                    event = rest[i]
                    i += 1
                }
            }
            guard let config, let event else {
                printError("usage: gateway route --config FILE EVENT.json [--source NAME]")
                return 2
            }
            return RouteCommand.run(configPath: config, eventPath: event, sourceName: source)
        case "deadletter":
            return DeadLetterCommand.run(rest)
        case "send":
            if rest.contains("--help") || rest.contains("-h") {
                printOut(SendCommand.usage)
                return 0
            }
            guard let o = sendOptions(rest) else { return 2 }
            return SendCommand.run(o)
        case "version", "--version":
            printOut("gateway \(version)")
            return 0
        case "help", "--help", "-h":
            printOut(usage)
            return 0
        default:
            printError("gateway: unknown command '\(command)'\n\n\(usage)")
            return 2
        }
    }

    static func configPath(_ args: [String], command: String) -> String? {
        var path: String? = nil
        var i = 0
        while i < args.count {
            switch args[i] {
            case "--config", "-c":
                guard i + 1 < args.count else {
                    printError("gateway \(command): --config needs a file")
                    return nil
                }
                path = args[i + 1]
                i += 2
            case let a where a.hasPrefix("--config="):
                path = String(a.dropFirst("--config=".count))
                i += 1
            default:
                printError("gateway \(command): unknown argument '\(args[i])'\n\n\(usage)")
                return nil
            }
        }
        guard let path else {
            printError("gateway \(command): --config FILE is required")
            return nil
        }
        return path
    }

    static func sendOptions(_ args: [String]) -> SendCommand.Options? {
        var o = SendCommand.Options()
        var i = 0
        func value(_ flag: String) -> String? {
            guard i + 1 < args.count else {
                printError("gateway send: \(flag) needs a value")
                return nil
            }
            i += 2
            return args[i - 1]
        }
        while i < args.count {
            let a = args[i]
            switch a {
            case "--url": guard let v = value(a) else { return nil }; o.url = v
            case "--sign-key": guard let v = value(a) else { return nil }; o.signKey = v
            case "--sign-key-file":
                guard let v = value(a) else { return nil }
                guard var k = try? String(contentsOfFile: v, encoding: .utf8) else {
                    printError("gateway send: cannot read --sign-key-file '\(v)'")
                    return nil
                }
                if k.hasSuffix("\n") { k.removeLast() }
                o.signKey = k
            case "--sign-type": guard let v = value(a) else { return nil }; o.signType = v
            case "--event-code": guard let v = value(a) else { return nil }; o.eventCode = v
            case "--body": guard let v = value(a) else { return nil }; o.bodyFile = v
            case "--sm2-key": guard let v = value(a) else { return nil }; o.sm2KeyFile = v
            case "--msg-id": guard let v = value(a) else { return nil }; o.msgID = v
            case "--datetime": guard let v = value(a) else { return nil }; o.dateTime = v
            case "--header":
                guard let v = value(a) else { return nil }
                guard let colon = v.firstIndex(of: ":") else {
                    printError("gateway send: --header must be 'Name: value'")
                    return nil
                }
                o.headers.append((String(v[..<colon]), v[v.index(after: colon)...].trimmingCharacters(in: .whitespaces)))
            case "--timeout-ms":
                guard let v = value(a) else { return nil }
                guard let n = Int(v), n > 0 else {
                    printError("gateway send: --timeout-ms must be a positive integer")
                    return nil
                }
                o.timeoutMs = n
            case "-v", "--verbose":
                o.verbose = true
                i += 1
            default:
                printError("gateway send: unknown argument '\(a)'\n\n\(SendCommand.usage)")
                return nil
            }
        }
        return o
    }
}

import Foundation
