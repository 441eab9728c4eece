import Foundation
import GatewayCore
import GatewayCrypto
import GatewayHTTP
import GatewaySpool

/// The admin listener (separate from the public port).
///
/// | Endpoint | |
/// |---|---|
/// | `GET /healthz` | alive: the loops answer. No token. |
/// | `GET /readyz` | configuration loaded, spool writable, listening; 503 otherwise (and while shutting down). No token. |
/// | `GET /metrics` | Prometheus text format. |
/// | `POST /admin/reload` | reload `gateway.yaml`; 200 with the generation, or 422 with the `FILE:LINE:COL` errors. |
/// | `GET /admin/routes` | the routes in force with their counters. |
/// | `GET /admin/deadletters[?route=R][&body=1]` | dead letters, oldest first (bodies only when asked). |
/// | `POST /admin/deadletters/replay[?route=R][&id=ID]` | queue dead letters for delivery again. |
/// | `POST /admin/deadletters/purge[?route=R][&id=ID][&olderThanSeconds=N]` | delete dead letters. |
///
/// When `admin.token` is set, every endpoint but the two probes needs `Authorization: Bearer
/// <token>` (compared in constant time); the token is re-read from the configuration in force, so
/// a reload rotates it.
final class AdminResponder: HTTPResponder {
    private let state: GatewayState
    private let dispatcher: Dispatcher
    private let metrics: GatewayMetrics
    private let reloader: Reloader
    private let logger: Logger
    /// Set once the public listener accepts: readiness needs it.
    private let listening: @Sendable () -> Bool

    init(
        state: GatewayState, dispatcher: Dispatcher, metrics: GatewayMetrics, reloader: Reloader, logger: Logger,
        listening: @escaping @Sendable () -> Bool
    ) {
        self.state = state
        self.dispatcher = dispatcher
        self.metrics = metrics
        self.reloader = reloader
        self.logger = logger
        self.listening = listening
    }

    private enum Endpoint: String {
        case healthz = "/healthz", readyz = "/readyz", metrics = "/metrics", reload = "/admin/reload", routes = "/admin/routes"
        case deadLetters = "/admin/deadletters", replay = "/admin/deadletters/replay", purge = "/admin/deadletters/purge"

        var methods: [String] {
            switch self {
            case .healthz, .readyz, .metrics, .routes, .deadLetters: ["GET", "HEAD"]
            case .reload, .replay, .purge: ["POST"]
            }
        }
        var needsToken: Bool { self != .healthz && self != .readyz }
    }

    func respond(to request: HTTPRequest, context: RequestContext, completion: ResponseCompletion) {
        let head = request.head
        guard let endpoint = Endpoint(rawValue: String(head.path)) else {
            return completion(.error(GatewayError(.notFound, "no such admin endpoint")))
        }
        if endpoint.needsToken, let token = state.config.admin?.token, !authorized(head.headers["Authorization"], token: token.value) {
            logger.warning("admin request refused: missing or wrong bearer token", [("path", .string(endpoint.rawValue)), ("remote", .string(context.remote.host))])
            var r = HTTPResponse.error(GatewayError(.unauthorized, "a valid bearer token is required", reason: "admin_token"))
            r.headers.append(("WWW-Authenticate", "Bearer"))
            return completion(r)
        }
        guard endpoint.methods.contains(head.method) else {
            let allow = endpoint.methods.joined(separator: ", ")
            return completion(.error(GatewayError(.methodNotAllowed, "use \(allow)", allow: allow)))
        }
        let query = QueryString(target: head.target)
        switch endpoint {
        case .healthz:
            completion(.json(200, Array(#"{"status":"ok"}"#.utf8)))
        case .readyz:
            readiness(completion)
        case .metrics:
            completion(HTTPResponse(status: 200, headers: [("Content-Type", PrometheusText.contentType)], body: metrics.registry.render()))
        case .reload:
            // Loading plugins and keys may block: not on the event loop.
            let (reloader, remote) = (self.reloader, context.remote.host)
            NamedThread.start("gw-reload") {
                switch reloader.reload(trigger: "admin \(remote)") {
                case .reloaded(let generation, let change):
                    var o = JSONObject()
                    o["status"] = .string("reloaded")
                    o["generation"] = .number(String(generation))
                    o["added"] = .array(change.added.map { .string($0) })
                    o["removed"] = .array(change.removed.map { .string($0) })
                    completion(.json(200, JSONValue.object(o).serialized()))
                case .failed(let errors):
                    var o = JSONObject()
                    o["error"] = .string("the new configuration is invalid; the current one keeps serving")
                    o["errors"] = .array(errors.map { .string($0) })
                    completion(.json(422, JSONValue.object(o).serialized()))
                }
            }
        case .routes:
            completion(.json(200, routesJSON()))
        case .deadLetters:
            let withBody = query["body"] == "1" || query["body"] == "true"
            let files = dispatcher.events.deadLetters
            var out: [UInt8] = Array(#"{"deadLetters":["#.utf8)
            for (i, e) in files.list(route: query["route"]).enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                if withBody {
                    out += e.json
                } else {
                    out += e.summaryJSON
                }
            }
            out += Array("]}".utf8)
            completion(.json(200, out))
        case .replay:
            let n = dispatcher.events.deadLetters.replay(route: query["route"], id: query["id"])
            logger.lifecycle("dead letters queued for replay (admin)", [("count", .int(n)), ("route", .string(query["route"] ?? "*"))])
            completion(.json(200, Array(#"{"queued":\#(n)}"#.utf8)))
        case .purge:
            var before: Int64? = nil
            if let s = query["olderThanSeconds"] {
                guard let secs = Int64(s), secs >= 0 else {
                    return completion(.error(GatewayError(.badRequest, "olderThanSeconds must be a whole number of seconds")))
                }
                before = wallClockMilliseconds() - secs * 1000
            }
            let n = dispatcher.events.deadLetters.purge(route: query["route"], id: query["id"], deadBeforeMs: before)
            logger.lifecycle("dead letters purged (admin)", [("count", .int(n)), ("route", .string(query["route"] ?? "*"))])
            completion(.json(200, Array(#"{"purged":\#(n)}"#.utf8)))
        }
    }

    private func readiness(_ completion: ResponseCompletion) {
        var problems: [String] = []
        if !state.isReady { problems.append("not serving (starting or shutting down)") }
        if !listening() { problems.append("not listening") }
        if !dispatcher.spool.isWritable { problems.append("the spool cannot write") }
        if problems.isEmpty {
            completion(.json(200, Array(#"{"status":"ready","generation":\#(state.generation)}"#.utf8)))
        } else {
            var o = JSONObject()
            o["status"] = .string("not ready")
            o["problems"] = .array(problems.map { .string($0) })
            completion(.json(503, JSONValue.object(o).serialized()))
        }
    }

    private func routesJSON() -> [UInt8] {
        let pending = dispatcher.pending
        let oldest = dispatcher.oldestPendingMs
        let now = wallClockMilliseconds()
        // Totals per route (over plugins) from one pass over each counter family.
        var outcomes: [String: Int] = [:]
        for (labels, c) in metrics.deliveries.allSeries { outcomes["\(labels[0])\u{0}\(labels[2])", default: 0] += c.count }
        var retries: [String: Int] = [:]
        for (labels, c) in metrics.retries.allSeries { retries[labels[0], default: 0] += c.count }
        var routes: [JSONValue] = []
        for r in dispatcher.routes {
            var o = JSONObject()
            o["name"] = .string(r.name)
            o["source"] = r.rule.source.map { .string($0) } ?? .null
            o["events"] = .array(r.rule.events.map { $0.sorted().map { JSONValue.string($0) } } ?? [.string("*")])
            o["handlers"] = .array(r.handlerNames.map { .string($0) })
            o["concurrency"] = .number(String(r.concurrency))
            o["maxAttempts"] = .number(String(r.retry.maxAttempts))
            o["pending"] = .number(String(pending[r.name] ?? 0))
            let age = (oldest[r.name] ?? nil).map { Double(max(0, now - $0)) / 1000 } ?? 0
            o["oldestPendingAgeSeconds"] = .number(PrometheusText.format(age))
            for outcome in ["delivered", "dropped", "dead"] {
                o[outcome] = .number(String(outcomes["\(r.name)\u{0}\(outcome)", default: 0]))
            }
            o["retries"] = .number(String(retries[r.name, default: 0]))
            routes.append(.object(o))
        }
        var top = JSONObject()
        top["generation"] = .number(String(state.generation))
        top["unmatched"] = .string(state.config.unmatched.rawValue)
        top["routes"] = .array(routes)
        return JSONValue.object(top).serialized()
    }

    private func authorized(_ header: String?, token: String) -> Bool {
        guard let header, header.count > 7, header.prefix(7).lowercased() == "bearer " else { return false }
        let given = header.dropFirst(7).trimmingCharacters(in: .whitespaces)
        // Digests of both: equal length, so the comparison leaks neither content nor length.
        guard let a = try? Digest.hash(.sha256, parts: [Array(given.utf8)]), let b = try? Digest.hash(.sha256, parts: [Array(token.utf8)]) else {
            return false
        }
        return ConstantTime.equals(a, b)
    }
}
