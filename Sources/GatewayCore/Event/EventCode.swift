/// The notification types the provider documents, and where each keeps its transaction.
///
/// The provider adds codes over time; an unknown code is still a valid notification (rejecting it
/// would make the provider retry forever), so `EventCode` is a string wrapper with a table of the
/// known ones rather than a closed enum.
public struct EventCode: Sendable, Hashable, CustomStringConvertible {
    public let rawValue: String
    /// The code's place in `documented`, or -1 for a code the provider does not document.
    /// Looked up once, when the code is made: logs, metrics, classification and routing ask
    /// about it several times per notification, and each dictionary lookup hashes the code
    /// (some 350 instructions).
    let documentedIndex: Int

    public init(_ rawValue: String) {
        self.rawValue = rawValue
        // Compared in turn, not hashed: the codes are small strings (up to 15 bytes, kept in
        // the string itself), so each comparison is two words; a dictionary lookup hashed the
        // code first (some 350 instructions per notification).
        self.documentedIndex = EventCode.documented.firstIndex(of: rawValue) ?? -1
    }

    /// Whether the provider documents this code.
    public var isKnown: Bool { documentedIndex >= 0 }

    public var description: String { rawValue }

    /// Object paths, in order of preference, where a notification of this code carries its
    /// transaction (merchantTransInfo, evoTransInfo, status, amounts). Unknown codes are searched
    /// in `fallbackSections`.
    public var transactionSections: [String] {
        isKnown ? EventCode.transactionSections[EventCode.documented[documentedIndex]] ?? [] : EventCode.fallbackSections
    }

    /// `transactionSections` as parsed paths (parsed once per process, not per event).
    var transactionSectionPaths: [(name: String, path: JSONPath)] {
        isKnown ? EventCode.sectionPathsByIndex[documentedIndex] : EventCode.fallbackSectionPaths
    }

    private static func paths(_ names: [String]) -> [(name: String, path: JSONPath)] {
        names.compactMap { n in JSONPath(n).map { (n, $0) } }
    }

    private static let sectionPathsByIndex: [[(name: String, path: JSONPath)]] = documented.map { paths(transactionSections[$0] ?? []) }
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
