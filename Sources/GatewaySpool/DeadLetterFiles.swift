import Foundation
import GatewayCore
import Glibc

/// A delivery that could not be made, as kept on disk.
public struct DeadLetterEntry: Sendable, Equatable {
    public var id: String
    public var route: String
    public var source: String
    public var eventCode: String
    public var msgID: String
    public var attempts: Int
    public var lastError: String
    public var receivedMs: Int64
    public var deadMs: Int64
    /// The provider's headers kept with the notification (`DateTime`, `SignType`).
    public var headers: [KeptHeader]
    /// The notification as received (JSON).
    public var body: [UInt8]

    public init(
        id: String, route: String, source: String, eventCode: String, msgID: String, attempts: Int, lastError: String,
        receivedMs: Int64, deadMs: Int64, headers: [KeptHeader] = [], body: [UInt8]
    ) {
        self.id = id
        self.route = route
        self.source = source
        self.eventCode = eventCode
        self.msgID = msgID
        self.attempts = attempts
        self.lastError = lastError
        self.receivedMs = receivedMs
        self.deadMs = deadMs
        self.headers = headers
        self.body = body
    }

    /// One JSON object (the body embedded as JSON), the file's content and `deadletter list`'s line.
    public var json: [UInt8] {
        var out = summaryJSON
        out.removeLast()  // "}"
        out += Array(",\"body\":".utf8)
        out += (try? JSONDocument.parse(body)) != nil ? body : Array(JSONValue.quoted(String(decoding: body, as: UTF8.self)).utf8)
        out.append(UInt8(ascii: "}"))
        return out
    }

    /// The same object without the body (it carries card data): for listings that do not ask for it.
    public var summaryJSON: [UInt8] {
        var o = JSONObject()
        o["id"] = .string(id)
        o["route"] = .string(route)
        o["source"] = .string(source)
        o["eventCode"] = .string(eventCode)
        o["msgID"] = .string(msgID)
        o["attempts"] = .number(String(attempts))
        o["lastError"] = .string(lastError)
        o["received"] = .string(CivilTime.iso8601(epochMillis: receivedMs))
        o["receivedMs"] = .number(String(receivedMs))
        o["deadMs"] = .number(String(deadMs))
        if !headers.isEmpty {
            var h = JSONObject()
            for kept in headers { h[kept.name] = .string(kept.value) }
            o["headers"] = .object(h)
        }
        return JSONValue.object(o).serialized()
    }

    public init?(json: [UInt8]) {
        guard let doc = try? JSONDocument.parse(json, limits: JSONParser.Limits(maxDepth: 128, maxNumberLength: 64)) else { return nil }
        let r = doc.root
        guard let id = r["id"]?.stringValue, let route = r["route"]?.stringValue, let body = r["body"] else { return nil }
        self.id = id
        self.route = route
        source = r["source"]?.stringValue ?? ""
        eventCode = r["eventCode"]?.stringValue ?? ""
        msgID = r["msgID"]?.stringValue ?? ""
        attempts = Int(r["attempts"]?.scalarText ?? "") ?? 0
        lastError = r["lastError"]?.stringValue ?? ""
        receivedMs = Int64(r["receivedMs"]?.scalarText ?? "") ?? 0
        deadMs = Int64(r["deadMs"]?.scalarText ?? "") ?? 0
        headers = []
        if let h = r["headers"], case .object(let fields) = h.materialize() {
            headers = fields.members.compactMap { m in m.value.stringValue.map { KeptHeader(m.key, $0) } }
        }
        self.body = body.kind == .string ? Array((body.stringValue ?? "").utf8) : body.rawBytes
    }
}

/// Dead letters as files: `deadletters/<id>.json`, one per delivery, written durably. Replay moves
/// a file to `replay/`, where the running gateway (or the next one to start) picks it up. Works
/// whether or not a gateway runs on the spool: every change is one atomic rename or unlink.
public struct DeadLetterFiles: Sendable {
    public let dir: String
    var deadDir: String { dir + "/deadletters" }
    var replayDir: String { dir + "/replay" }

    public init(spoolDir: String) {
        dir = spoolDir
    }

    static func fileName(_ id: String) -> String {
        String(id.map { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" || $0 == "." ? $0 : "_" }.prefix(200)) + ".json"
    }

    public func write(_ e: DeadLetterEntry) throws(SpoolError) {
        try SpoolFiles.writeAtomically(deadDir + "/" + DeadLetterFiles.fileName(e.id), e.json)
    }

    private func entries(in directory: String) -> [(path: String, entry: DeadLetterEntry)] {
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).filter { $0.hasSuffix(".json") }
        return names.compactMap { name in
            let path = directory + "/" + name
            guard let bytes = SpoolFiles.readFile(path), let e = DeadLetterEntry(json: bytes) else { return nil }
            return (path, e)
        }.sorted { ($0.entry.deadMs, $0.entry.id) < ($1.entry.deadMs, $1.entry.id) }
    }

    /// How many dead letters are on disk (names only: nothing is read or parsed).
    public var count: Int {
        ((try? FileManager.default.contentsOfDirectory(atPath: deadDir)) ?? []).reduce(0) { $0 + ($1.hasSuffix(".json") ? 1 : 0) }
    }

    /// Every dead letter, oldest first.
    public func list(route: String? = nil) -> [DeadLetterEntry] {
        entries(in: deadDir).map(\.entry).filter { route == nil || $0.route == route }
    }

    /// Queues dead letters for another round of delivery; returns how many.
    @discardableResult
    public func replay(route: String? = nil, id: String? = nil) -> Int {
        var n = 0
        for (path, e) in entries(in: deadDir) where (route == nil || e.route == route) && (id == nil || e.id == id) {
            if rename(path, replayDir + "/" + DeadLetterFiles.fileName(e.id)) == 0 { n += 1 }
        }
        if n > 0 {
            try? SpoolFiles.syncDirectory(deadDir)
            try? SpoolFiles.syncDirectory(replayDir)
        }
        return n
    }

    /// Deletes dead letters (all, a route's, one, or those dead before `olderThanMs`).
    @discardableResult
    public func purge(route: String? = nil, id: String? = nil, deadBeforeMs: Int64? = nil) -> Int {
        var n = 0
        for (path, e) in entries(in: deadDir)
        where (route == nil || e.route == route) && (id == nil || e.id == id) && (deadBeforeMs.map { e.deadMs < $0 } ?? true) {
            if unlink(path) == 0 { n += 1 }
        }
        if n > 0 { try? SpoolFiles.syncDirectory(deadDir) }
        return n
    }

    /// Dead letters waiting in `replay/` (for the gateway).
    public func pendingReplays() -> [(path: String, entry: DeadLetterEntry)] {
        entries(in: replayDir)
    }

    /// Puts a replay back among the dead letters (e.g. its route no longer exists).
    public func returnToDead(path: String, entry: DeadLetterEntry, reason: String) {
        var e = entry
        e.lastError = reason
        if (try? write(e)) != nil { unlink(path) }
    }

    public func finishReplay(path: String) {
        unlink(path)
        try? SpoolFiles.syncDirectory(replayDir)
    }
}
