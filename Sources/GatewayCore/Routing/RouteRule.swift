/// Which notifications a route takes: an optional source, a set of event codes (or all), and
/// conditions on the body. Pure data; the runtime pairs it with transforms and handlers.
///
/// A class: it is read for every event and route, and a struct of a name, a source, a set and
/// an array was copied out of its route for each `matches` (three retains and three releases
/// through outlined copy functions, some 400 instructions an event).
public final class RouteRule: Sendable {
    public let name: String
    public let source: String?
    /// nil means every event code (`events: ["*"]`).
    public let events: Set<String>?
    public let conditions: [Condition]

    public init(name: String, source: String?, events: [String], conditions: [Condition]) {
        self.name = name
        self.source = source
        self.events = events.contains("*") ? nil : Set(events)
        self.conditions = conditions
    }

    /// Why `n` does not match (nil when it does). Reasons name the test that failed, not values.
    public func mismatch(_ n: GatewayEvent) -> String? {
        if let source, source != n.source { return "source is not '\(source)'" }
        if let events, !events.contains(n.eventCode.rawValue) {
            return "eventCode is not one of \(events.sorted().joined(separator: ", "))"
        }
        let root = n.document.root
        for c in conditions {
            if let f = c.failure(for: root) { return "condition failed: \(f)" }
        }
        return nil
    }

    /// True when `n` matches (the fast path: no reason text is built).
    public func matches(_ n: GatewayEvent) -> Bool {
        if let source, source != n.source { return false }
        if let events, !events.contains(n.eventCode.rawValue) { return false }
        let root = n.document.root
        return conditions.allSatisfy { $0.holds(for: root) }
    }
}
