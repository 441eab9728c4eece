/// An accepted, classified notification: what the rest of the gateway works with.
public struct Notification: Sendable {
    /// The configured source it arrived on.
    public var source: String
    public var eventCode: EventCode
    /// The `MsgID` header (at most 32 characters).
    public var msgID: String
    /// The `metadata` string, when present.
    public var metadata: String?
    public var transaction: TransactionSummary
    /// The parsed body.
    public var body: JSONValue
    /// The raw body, byte for byte as signed.
    public var rawBody: [UInt8]

    public init(
        source: String, eventCode: EventCode, msgID: String, metadata: String?,
        transaction: TransactionSummary, body: JSONValue, rawBody: [UInt8]
    ) {
        self.source = source
        self.eventCode = eventCode
        self.msgID = msgID
        self.metadata = metadata
        self.transaction = transaction
        self.body = body
        self.rawBody = rawBody
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
