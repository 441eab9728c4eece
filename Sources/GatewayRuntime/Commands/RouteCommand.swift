import Foundation
import GatewayConfig
import GatewayCore

/// `gateway route --config FILE EVENT.json [--source NAME]`: a dry run of the routing table.
///
/// Prints which routes take the event, why the others do not (the failed test only, never event
/// values), and the exact body each matching route's first handler would receive. Loads no
/// plugin, binds no port, touches no spool: it can run beside a live gateway on the same file.
/// Exit status 0 whether or not anything matches; 2 when the config or the event file is bad.
public enum RouteCommand {
    public static func run(configPath: String, eventPath: String, sourceName: String?) -> Int32 {
        let config: GatewayConfig
        let table: RouteTable
        do {
            config = try GatewayConfig.load(path: configPath)
            table = try RouteTable.compile(config, loadPlugins: false)
        } catch {
            printError("\(error)")
            return 2
        }
        guard let data = eventPath == "-" ? FileHandle.standardInput.readDataToEndOfFile() : FileManager.default.contents(atPath: eventPath) else {
            printError("gateway route: cannot read '\(eventPath)'")
            return 2
        }
        guard let source = sourceName.map({ name in config.sources.first { $0.name == name } }) ?? config.sources.first else {
            printError("gateway route: no source named '\(sourceName ?? "")'; sources: \(config.sources.map(\.name).joined(separator: ", "))")
            return 2
        }
        var limits = Classifier.Limits()
        limits.maxMetadataLength = source.maxMetadataLength
        let event: GatewayEvent
        do {
            let body = Array(data)
            let msgID = (try? JSONDocument.parse(body))?.root["MsgID"]?.stringValue ?? "dry-run"
            event = try Classifier(limits: limits).classify(source: source.name, msgID: String(msgID.prefix(32)), rawBody: body)
        } catch {
            printError("gateway route: the event would be refused with \(error.status): \(error.message)")
            return 2
        }
        var out = "event: eventCode \(event.eventCode)\(event.eventCode.isKnown ? "" : " (unknown code)"), source \(source.name)\n"
        var matched = 0
        for route in table.routes {
            if let reason = route.rule.mismatch(event) {
                out += "\nroute '\(route.name)': no match: \(reason)\n"
                continue
            }
            matched += 1
            out += "\nroute '\(route.name)': MATCH\n"
            out += "  handlers: \(route.handlerNames.joined(separator: " -> "))\n"
            out += "  retry: up to \(route.retry.maxAttempts) attempts\n"
            out += "  body the first handler receives:\n"
            out += "  " + String(decoding: route.transformedBody(event), as: UTF8.self) + "\n"
        }
        if matched == 0 {
            out += "\nno route takes this event: unmatched: \(config.unmatched.rawValue)"
            out += config.unmatched == .drop ? " (it would be acknowledged and dropped)\n" : " (it would be kept as a dead letter)\n"
        } else {
            out += "\n\(matched) of \(table.routes.count) route(s) match\n"
        }
        printOut(out)
        return 0
    }
}
