/// Turns a verified body into a `Notification`, enforcing the provider's content rules.
///
/// Rules (a break is a 400: the body was correctly signed, so retrying it cannot help, and the
/// provider must see a clear refusal rather than a silent drop):
/// - the body is a JSON object (within the parser's depth and number limits);
/// - `eventCode` is a string of 1 to `maxEventCodeLength` characters, none of them a control character;
/// - the `MsgID` header has at most `maxMsgIDLength` characters;
/// - `metadata`, when present, is a string of at most `maxMetadataLength` characters.
///
/// Lengths count Unicode scalars (the provider's pages say characters: "<= 32 字符"; a CJK
/// character is one, as in the provider's own counting).
public struct Classifier: Sendable {
    public struct Limits: Sendable, Equatable {
        public var maxEventCodeLength = 32
        public var maxMsgIDLength = 32
        public var maxMetadataLength = 512
        public var json = JSONParser.Limits()
        public init() {}
    }

    public var limits: Limits

    public init(limits: Limits = Limits()) {
        self.limits = limits
    }

    /// `receivedMs` and `keptHeaders` are carried with the event (see `GatewayEvent`): the
    /// ingress stamps a new notification, recovery and replay pass the stored ones.
    public func classify(
        source: String, msgID: String, rawBody: [UInt8], receivedMs: Int64 = 0, keptHeaders: [KeptHeader] = []
    ) throws(GatewayError) -> GatewayEvent {
        if msgID.hasMoreScalars(than: limits.maxMsgIDLength) {
            throw GatewayError(.badRequest, "MsgID is longer than \(limits.maxMsgIDLength) characters", reason: "msgid_too_long")
        }
        let document: JSONDocument
        do {
            document = try JSONDocument.parse(rawBody, limits: limits.json)
        } catch {
            throw GatewayError(.badRequest, "body is not valid JSON: \(error.reason)", reason: "invalid_json")
        }
        let object = document.root
        guard object.kind == .object else {
            throw GatewayError(.badRequest, "body must be a JSON object", reason: "not_an_object")
        }
        guard let codeValue = object["eventCode"] else {
            throw GatewayError(.badRequest, "eventCode is missing", reason: "missing_event_code")
        }
        guard let code = codeValue.stringValue else {
            throw GatewayError(.badRequest, "eventCode must be a string", reason: "invalid_event_code")
        }
        guard !code.isEmpty, !code.hasMoreScalars(than: limits.maxEventCodeLength) else {
            throw GatewayError(
                .badRequest, "eventCode must have 1 to \(limits.maxEventCodeLength) characters", reason: "invalid_event_code")
        }
        // The code travels on: in forward-http's `X-Gateway-Event-Code` header, in file names, in
        // a shell hook's environment. A control character (JSON lets "\r\n" be escaped into a
        // string) would let a signed body add headers to a forwarded request; no provider code
        // has one, so it is refused here, once, for every plugin.
        guard !code.utf8.contains(where: { $0 < 0x20 || $0 == 0x7F }) else {
            throw GatewayError(.badRequest, "eventCode must not contain control characters", reason: "invalid_event_code")
        }
        if let m = object["metadata"] {
            switch m.kind {
            case .string:
                guard (m.scalarCount ?? 0) <= limits.maxMetadataLength else {
                    throw GatewayError(
                        .badRequest, "metadata is longer than \(limits.maxMetadataLength) characters",
                        reason: "metadata_too_long")
                }
            case .null:
                break
            default:
                throw GatewayError(.badRequest, "metadata must be a string", reason: "invalid_metadata")
            }
        }
        let eventCode = EventCode(code)
        return GatewayEvent(
            source: source, eventCode: eventCode, msgID: msgID, transaction: Classifier.summarize(object, eventCode: eventCode),
            document: document, receivedMs: receivedMs, keptHeaders: keptHeaders)
    }

    /// Extracts the transaction facts from the first section that exists for this code.
    public static func summarize(_ body: JSONRef, eventCode: EventCode) -> TransactionSummary {
        for (section, path) in eventCode.transactionSectionPaths {
            guard let o = body[path: path], o.kind == .object else { continue }
            let amount = o["transAmount"] ?? o["billingAmount"]
            return TransactionSummary(
                section: section,
                merchantTransID: o["merchantTransInfo"]?["merchantTransID"]?.scalarText,
                evoTransID: o["evoTransInfo"]?["evoTransID"]?.scalarText,
                status: o["status"]?.scalarText,
                amount: amount?["value"]?.scalarText,
                currency: amount?["currency"]?.scalarText)
        }
        return TransactionSummary()
    }
}
