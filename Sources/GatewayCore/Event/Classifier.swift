/// Turns a verified body into a `Notification`, enforcing the provider's content rules.
///
/// Rules (a break is a 400: the body was correctly signed, so retrying it cannot help, and the
/// provider must see a clear refusal rather than a silent drop):
/// - the body is a JSON object (within the parser's depth and number limits);
/// - `eventCode` is a string of 1 to `maxEventCodeLength` characters;
/// - the `MsgID` header has at most `maxMsgIDLength` characters;
/// - `metadata`, when present, is a string of at most `maxMetadataLength` characters.
///
/// Lengths count Unicode characters as the provider's pages do ("<= 32 字符").
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

    public func classify(source: String, msgID: String, rawBody: [UInt8]) throws(GatewayError) -> Notification {
        if msgID.count > limits.maxMsgIDLength {
            throw GatewayError(.badRequest, "MsgID is longer than \(limits.maxMsgIDLength) characters", reason: "msgid_too_long")
        }
        let body: JSONValue
        do {
            body = try JSONParser.parse(rawBody, limits: limits.json)
        } catch {
            throw GatewayError(.badRequest, "body is not valid JSON: \(error.reason)", reason: "invalid_json")
        }
        guard case .object(let object) = body else {
            throw GatewayError(.badRequest, "body must be a JSON object", reason: "not_an_object")
        }
        guard let codeValue = object["eventCode"] else {
            throw GatewayError(.badRequest, "eventCode is missing", reason: "missing_event_code")
        }
        guard case .string(let code) = codeValue else {
            throw GatewayError(.badRequest, "eventCode must be a string", reason: "invalid_event_code")
        }
        guard !code.isEmpty, code.count <= limits.maxEventCodeLength else {
            throw GatewayError(
                .badRequest, "eventCode must have 1 to \(limits.maxEventCodeLength) characters", reason: "invalid_event_code")
        }
        var metadata: String? = nil
        if let m = object["metadata"] {
            switch m {
            case .string(let s):
                guard s.count <= limits.maxMetadataLength else {
                    throw GatewayError(
                        .badRequest, "metadata is longer than \(limits.maxMetadataLength) characters",
                        reason: "metadata_too_long")
                }
                metadata = s
            case .null:
                metadata = nil
            default:
                throw GatewayError(.badRequest, "metadata must be a string", reason: "invalid_metadata")
            }
        }
        let eventCode = EventCode(code)
        return Notification(
            source: source, eventCode: eventCode, msgID: msgID, metadata: metadata,
            transaction: Classifier.summarize(body, eventCode: eventCode), body: body, rawBody: rawBody)
    }

    /// Extracts the transaction facts from the first section that exists for this code.
    public static func summarize(_ body: JSONValue, eventCode: EventCode) -> TransactionSummary {
        for section in eventCode.transactionSections {
            guard let path = JSONPath(section), case .object(let o)? = body[path: path] else { continue }
            let value = JSONValue.object(o)
            let amount = value["transAmount"] ?? value["billingAmount"]
            return TransactionSummary(
                section: section,
                merchantTransID: value.value(at: "merchantTransInfo.merchantTransID")?.scalarText,
                evoTransID: value.value(at: "evoTransInfo.evoTransID")?.scalarText,
                status: value["status"]?.scalarText,
                amount: amount?["value"]?.scalarText,
                currency: amount?["currency"]?.scalarText)
        }
        return TransactionSummary()
    }
}
