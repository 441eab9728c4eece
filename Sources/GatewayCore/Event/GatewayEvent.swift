/// An accepted, classified notification: what the rest of the gateway works with. (Not
/// `Notification`, which Foundation already names.)
///
/// A value type over one shared, immutable box: the event travels by value through the
/// ingress closure, the dispatcher and every delivery, and as a struct of a dozen strings and
/// arrays each copy retained (and each destroy released) every one of them, 44 reference-count
/// operations per notification in the ingress alone. A copy is now one retain. The box's
/// fields are `let`: a class's `var` is checked for exclusive access at run time on every read
/// (`swift_beginAccess`, 1,100 instructions per notification when they were `var`), so an
/// event is never changed after it is made: the ingress, recovery and replay pass
/// `receivedMs` and `keptHeaders` to the classifier.
public struct GatewayEvent: Sendable {
    @usableFromInline
    final class Storage: Sendable {
        @usableFromInline let source: String
        @usableFromInline let eventCode: EventCode
        @usableFromInline let msgID: String
        @usableFromInline let transaction: TransactionSummary
        @usableFromInline let document: JSONDocument
        @usableFromInline let receivedMs: Int64
        @usableFromInline let keptHeaders: [KeptHeader]

        init(
            source: String, eventCode: EventCode, msgID: String, transaction: TransactionSummary, document: JSONDocument,
            receivedMs: Int64, keptHeaders: [KeptHeader]
        ) {
            self.source = source
            self.eventCode = eventCode
            self.msgID = msgID
            self.transaction = transaction
            self.document = document
            self.receivedMs = receivedMs
            self.keptHeaders = keptHeaders
        }
    }

    @usableFromInline let storage: Storage

    /// The configured source it arrived on.
    @inlinable public var source: String { storage.source }
    @inlinable public var eventCode: EventCode { storage.eventCode }
    /// The `MsgID` header (at most 32 characters).
    @inlinable public var msgID: String { storage.msgID }
    @inlinable public var transaction: TransactionSummary { storage.transaction }
    /// The validated body: raw bytes (exactly as signed) plus an index of its values.
    @inlinable public var document: JSONDocument { storage.document }
    /// When the gateway received it (ms since the epoch; 0 until the ingress sets it). Kept in
    /// the spool, so it stays the original time across restarts and in dead letters.
    @inlinable public var receivedMs: Int64 { storage.receivedMs }
    /// The provider's request headers worth keeping with it (`DateTime`, `SignType`): stored in
    /// the spool and shown in dead letters, for audits. Never `Authorization`.
    @inlinable public var keptHeaders: [KeptHeader] { storage.keptHeaders }

    /// The raw body, byte for byte as signed.
    public var rawBody: [UInt8] { document.bytes }

    /// The `metadata` string, when present (decoded on each call).
    public var metadata: String? { document.root["metadata"]?.stringValue }

    /// The body as a tree (built on each call: keep the result when it is used more than once).
    public var body: JSONValue { document.root.materialize() }

    public init(
        source: String, eventCode: EventCode, msgID: String, transaction: TransactionSummary, document: JSONDocument,
        receivedMs: Int64 = 0, keptHeaders: [KeptHeader] = []
    ) {
        storage = Storage(
            source: source, eventCode: eventCode, msgID: msgID, transaction: transaction, document: document,
            receivedMs: receivedMs, keptHeaders: keptHeaders)
    }
}

/// A request header kept with a notification.
public struct KeptHeader: Sendable, Equatable {
    public var name: String
    public var value: String

    public init(_ name: String, _ value: String) {
        self.name = name
        self.value = value
    }
}

/// The transaction facts worth logging and routing on, when the notification carries them.
/// None of these is card data.
public struct TransactionSummary: Sendable, Equatable {
    /// Which object they were taken from (`payment`, `capture`, ...), or nil when none was found.
    public var section: String?
    public var merchantTransID: String?
    public var evoTransID: String?
    public var status: String?
    public var amount: String?
    public var currency: String?

    public init(
        section: String? = nil, merchantTransID: String? = nil, evoTransID: String? = nil,
        status: String? = nil, amount: String? = nil, currency: String? = nil
    ) {
        self.section = section
        self.merchantTransID = merchantTransID
        self.evoTransID = evoTransID
        self.status = status
        self.amount = amount
        self.currency = currency
    }
}
