/// A delivery the log says is not finished.
public struct PendingDelivery: Sendable, Equatable {
    public var record: AcceptedRecord
    public var route: String
    /// Attempts made so far.
    public var attempts: UInt32
    /// When the next attempt is due (0: now).
    public var nextAttemptMs: Int64
    public var handlerIndex: UInt32
    /// The input of `handlerIndex`, when an earlier handler changed the body.
    public var body: [UInt8]?
}

/// Rebuilds the spool's state from its records, in log order (I/O-free, so recovery rules are
/// tested directly): which deliveries are still pending and where they resume, and which
/// de-duplication entries are still in their window.
public struct SpoolRecovery: Sendable {
    public private(set) var accepted: [UInt64: AcceptedRecord] = [:]
    /// (id, route) -> progress, for deliveries without an outcome.
    private var progress: [Key: RetryRecord?] = [:]
    /// Segment index of each accepted id that still has pending deliveries.
    public private(set) var segmentOf: [UInt64: Int] = [:]
    public private(set) var maxID: UInt64 = 0
    public private(set) var records = 0

    struct Key: Hashable, Sendable {
        var id: UInt64
        var route: String
    }

    public init() {}

    public mutating func apply(_ record: SpoolRecord, segment: Int) {
        records += 1
        switch record {
        case .accepted(let a):
            maxID = max(maxID, a.id)
            accepted[a.id] = a
            for r in a.routes { progress[Key(id: a.id, route: r)] = .some(nil) }
            if !a.routes.isEmpty { segmentOf[a.id] = segment }
        case .outcome(let id, let route, _, _):
            progress[Key(id: id, route: route)] = nil
        case .retry(let r):
            let key = Key(id: r.id, route: r.route)
            if progress[key] != nil { progress[key] = .some(r) }
        }
    }

    /// Every delivery still to make, oldest notification first.
    public var pending: [PendingDelivery] {
        var out: [PendingDelivery] = []
        for (key, retry) in progress {
            guard let a = accepted[key.id] else { continue }  // its segment is gone: resolved earlier
            out.append(
                PendingDelivery(
                    record: a, route: key.route, attempts: retry?.attempts ?? 0, nextAttemptMs: retry?.nextAttemptMs ?? 0,
                    handlerIndex: retry?.handlerIndex ?? 0, body: retry?.body))
        }
        return out.sorted { ($0.record.id, $0.route) < ($1.record.id, $1.route) }
    }

    /// Pending deliveries per segment index (segments with none can be deleted).
    public var unresolvedPerSegment: [Int: Int] {
        var out: [Int: Int] = [:]
        for key in progress.keys {
            if let s = segmentOf[key.id], accepted[key.id] != nil { out[s, default: 0] += 1 }
        }
        return out
    }

    /// Pending deliveries per accepted id.
    public var remainingPerID: [UInt64: Int] {
        var out: [UInt64: Int] = [:]
        for key in progress.keys where accepted[key.id] != nil { out[key.id, default: 0] += 1 }
        return out
    }
}
