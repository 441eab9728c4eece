/// An accepted, classified notification: what the rest of the gateway works with. (Not
/// `Notification`, which Foundation already names.)
public struct GatewayEvent: Sendable {
    /// The configured source it arrived on.
    public var source: String
    public var eventCode: EventCode
    /// The `MsgID` header (at most 32 characters).
    public var msgID: String
    public var transaction: TransactionSummary
    /// The validated body: raw bytes (exactly as signed) plus an index of its values.
    public var document: JSONDocument
    /// When the gateway received it (ms since the epoch; 0 until the ingress sets it). Kept in
    /// the spool, so it stays the original time across restarts and in dead letters.
    public var receivedMs: Int64 = 0
    /// The provider's request headers worth keeping with it (`DateTime`, `SignType`): stored in
    /// the spool and shown in dead letters, for audits. Never `Authorization`.
    public var keptHeaders: [KeptHeader] = []

    /// The raw body, byte for byte as signed.
    public var rawBody: [UInt8] { document.bytes }

    /// The `metadata` string, when present (decoded on each call).
    public var metadata: String? { document.root["metadata"]?.stringValue }

    /// The body as a tree (built on each call: keep the result when it is used more than once).
    public var body: JSONValue { document.root.materialize() }

    public init(
        source: String, eventCode: EventCode, msgID: String, transaction: TransactionSummary, document: JSONDocument
    ) {
        self.source = source
        self.eventCode = eventCode
        self.msgID = msgID
        self.transaction = transaction
        self.document = document
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
