import Foundation
import GatewayConfig
import GatewayCore
import GatewaySpool

/// `gateway deadletter list|replay|purge --config FILE [--route R] [--id ID] [--older-than DURATION]`
///
/// Works on the spool's dead-letter files, with or without a running gateway: `replay` moves the
/// chosen ones to the replay inbox, which a running gateway picks up within a second (or the next
/// one to start does).
public enum DeadLetterCommand {
    public static let usage = """
        usage: gateway deadletter list   --config FILE [--route R]
               gateway deadletter replay --config FILE [--route R] [--id ID]
               gateway deadletter purge  --config FILE [--route R] [--id ID] [--older-than 7d]

        list prints one JSON object per dead letter (id, route, attempts, lastError, ..., body).
        replay queues them for delivery again; purge deletes them (--older-than: s, m, h, d).
        """

    public static func run(_ args: [String]) -> Int32 {
        guard let action = args.first, ["list", "replay", "purge"].contains(action) else {
            printError(usage)
            return 2
        }
        var config: String?
        var route: String?
        var id: String?
        var olderThan: Int64?
        var i = 1
        while i < args.count {
            guard i + 1 < args.count else {
                printError("gateway deadletter: \(args[i]) needs a value\n\n\(usage)")
                return 2
            }
            let v = args[i + 1]
            switch args[i] {
            case "--config", "-c": config = v
            case "--route": route = v
            case "--id": id = v
            case "--older-than":
                guard let ms = durationMs(v) else {
                    printError("gateway deadletter: --older-than takes a duration such as 3600s, 90m, 12h or 7d")
                    return 2
                }
                olderThan = ms
            default:
                printError("gateway deadletter: unknown argument '\(args[i])'\n\n\(usage)")
                return 2
            }
            i += 2
        }
        guard let config else {
            printError("gateway deadletter: --config FILE is required")
            return 2
        }
        let dir: String
        do {
            dir = try GatewayConfig.load(path: config).spool.dir
        } catch {
            printError("\(error)")
            return 2
        }
        let files = DeadLetterFiles(spoolDir: dir)
        switch action {
        case "list":
            var n = 0
            for e in files.list(route: route) where id == nil || e.id == id {
                printOut(String(decoding: e.json, as: UTF8.self))
                n += 1
            }
            printError("\(n) dead letter(s) in \(dir)/deadletters")
        case "replay":
            let n = files.replay(route: route, id: id)
            printOut("\(n) dead letter(s) queued for replay")
        default:
            if route == nil && id == nil && olderThan == nil {
                printError("gateway deadletter purge: give --route, --id or --older-than (or --older-than 0s for all)")
                return 2
            }
            let before = olderThan.map { Int64(wallClockMs()) - $0 }
            let n = files.purge(route: route, id: id, deadBeforeMs: before)
            printOut("\(n) dead letter(s) purged")
        }
        return 0
    }

    static func durationMs(_ s: String) -> Int64? {
        let units: [(String, Int64)] = [("ms", 1), ("s", 1000), ("m", 60_000), ("h", 3_600_000), ("d", 86_400_000)]
        for (suffix, factor) in units where s.hasSuffix(suffix) {
            guard let n = Int64(s.dropLast(suffix.count)), n >= 0 else { return nil }
            return n * factor
        }
        return nil
    }

    static func wallClockMs() -> Int64 { Int64(Date().timeIntervalSince1970 * 1000) }
}
