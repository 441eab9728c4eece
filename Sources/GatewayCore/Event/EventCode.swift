/// The notification types the provider documents, and where each keeps its transaction.
///
/// The provider adds codes over time; an unknown code is still a valid notification (rejecting it
/// would make the provider retry forever), so `EventCode` is a string wrapper with a table of the
/// known ones rather than a closed enum.
public struct EventCode: Sendable, Hashable, CustomStringConvertible {
    public let rawValue: String
    /// Whether the provider documents this code. Decided once (logs, metrics and routing ask
    /// several times per notification, and each lookup hashes the code).
    public let isKnown: Bool

    public init(_ rawValue: String) {
        self.rawValue = rawValue
        self.isKnown = EventCode.transactionSections[rawValue] != nil
    }

    public var description: String { rawValue }

    /// Object paths, in order of preference, where a notification of this code carries its
    /// transaction (merchantTransInfo, evoTransInfo, status, amounts). Unknown codes are searched
    /// in `fallbackSections`.
    public var transactionSections: [String] {
        EventCode.transactionSections[rawValue] ?? EventCode.fallbackSections
    }

    /// `transactionSections` as parsed paths (parsed once per process, not per event).
    var transactionSectionPaths: [(name: String, path: JSONPath)] {
        EventCode.sectionPaths[rawValue] ?? EventCode.fallbackSectionPaths
    }

    private static func paths(_ names: [String]) -> [(name: String, path: JSONPath)] {
        names.compactMap { n in JSONPath(n).map { (n, $0) } }
    }

    private static let sectionPaths: [String: [(name: String, path: JSONPath)]] = transactionSections.mapValues(paths)
    private static let fallbackSectionPaths = paths(fallbackSections)

    /// Documented codes. Payment's follow-ups (Capture, Cancel, Refund, MerchandiseCredit) are
    /// published on the Payment page and may carry the original `payment` object; their own
    /// object, when present, is preferred.
    static let transactionSections: [String: [String]] = [
        "Payment": ["payment"],
        "Capture": ["capture", "payment"],
        "Cancel": ["cancel", "payment"],
        "Refund": ["refund", "payment"],
        "MerchandiseCredit": ["merchandiseCredit", "refund", "payment"],
        "Recapture": ["recapture", "payment"],
        "Cryptogram": ["cryptogram"],
        "TokenUpdate": ["paymentMethod.networkToken"],
        "Verify": ["verify", "payment"],
        "Identify": ["identify", "payment"],
        "Settlement": ["settlement"],
        "DataSubmission": ["dataSubmission", "payment"],
        "CancelOrRefund": ["cancelOrRefund", "cancel", "refund", "payment"],
    ]

    static let fallbackSections = [
        "payment", "capture", "refund", "cancel", "recapture", "cryptogram", "paymentMethod.networkToken",
    ]

    public static let documented: [String] = [
        "Payment", "Capture", "Cancel", "Refund", "MerchandiseCredit", "Recapture", "Cryptogram", "TokenUpdate",
        "Verify", "Identify", "Settlement", "DataSubmission", "CancelOrRefund",
    ]
}
