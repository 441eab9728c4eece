import Testing

@testable import GatewayCore

@Suite("Classification")
struct ClassifierTests {
    let classifier = Classifier()

    func classify(_ body: String, msgID: String = "m1") throws(GatewayError) -> GatewayEvent {
        try classifier.classify(source: "evo", msgID: msgID, rawBody: Array(body.utf8))
    }

    @Test func paymentSummary() throws {
        let n = try classify(
            #"{"eventCode":"Payment","metadata":"x","payment":{"status":"Success","merchantTransInfo":{"merchantTransID":"MT1"},"evoTransInfo":{"evoTransID":"E1"},"transAmount":{"currency":"USD","value":"10.00"}}}"#
        )
        #expect(n.eventCode.rawValue == "Payment")
        #expect(n.eventCode.isKnown)
        #expect(n.metadata == "x")
        #expect(
            n.transaction
                == TransactionSummary(section: "payment", merchantTransID: "MT1", evoTransID: "E1", status: "Success", amount: "10.00", currency: "USD"))
    }

    @Test(arguments: [
        ("Capture", #""capture":{"status":"Success","merchantTransInfo":{"merchantTransID":"C1"}},"payment":{"merchantTransInfo":{"merchantTransID":"P1"}}"#, "capture", "C1"),
        ("Refund", #""payment":{"merchantTransInfo":{"merchantTransID":"P1"}}"#, "payment", "P1"),
        ("Recapture", #""recapture":{"merchantTransInfo":{"merchantTransID":"R1"}}"#, "recapture", "R1"),
        ("Cryptogram", #""cryptogram":{"merchantTransInfo":{"merchantTransID":"Y1"},"status":"Success"}"#, "cryptogram", "Y1"),
        ("TokenUpdate", #""paymentMethod":{"networkToken":{"status":"Active"}}"#, "paymentMethod.networkToken", nil),
        ("SomethingNew", #""refund":{"merchantTransInfo":{"merchantTransID":"N1"}}"#, "refund", "N1"),
    ])
    func transactionSections(_ code: String, _ members: String, _ section: String, _ merchantTransID: String?) throws {
        let n = try classify("{\"eventCode\":\"\(code)\",\(members)}")
        #expect(n.transaction.section == section)
        #expect(n.transaction.merchantTransID == merchantTransID)
    }

    @Test func unknownCodesAreAcceptedAndMarked() throws {
        let n = try classify(#"{"eventCode":"BrandNewEvent"}"#)
        #expect(!n.eventCode.isKnown)
        #expect(n.transaction.section == nil)
    }

    @Test(arguments: [
        ("[]", "not_an_object"),
        ("\"Payment\"", "not_an_object"),
        ("{}", "missing_event_code"),
        (#"{"eventCode":1}"#, "invalid_event_code"),
        (#"{"eventCode":""}"#, "invalid_event_code"),
        (#"{"eventCode":"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456"}"#, "invalid_event_code"),
        // Control characters would follow the code into forward-http's headers.
        (#"{"eventCode":"Payment\r\nX-Injected: 1"}"#, "invalid_event_code"),
        (#"{"eventCode":"Pay\u0000ment"}"#, "invalid_event_code"),
        (#"{"eventCode":"Pay\u007f"}"#, "invalid_event_code"),
        (#"{"eventCode":"\tPayment"}"#, "invalid_event_code"),
        (#"{"eventCode":"Payment","metadata":{"a":1}}"#, "invalid_metadata"),
        ("{not json", "invalid_json"),
    ])
    func refusals(_ body: String, _ reason: String) {
        #expect {
            try classify(body)
        } throws: { error in
            guard let e = error as? GatewayError else { return false }
            return e.status == 400 && e.reason == reason
        }
    }

    @Test func lengthsCountCharactersNotBytes() throws {
        let code32 = String(repeating: "中", count: 32)
        _ = try classify("{\"eventCode\":\"\(code32)\"}")
        let meta512 = String(repeating: "é", count: 512)
        _ = try classify("{\"eventCode\":\"Payment\",\"metadata\":\"\(meta512)\"}")
        #expect(throws: GatewayError.self) { try classify("{\"eventCode\":\"Payment\",\"metadata\":\"\(meta512)x\"}") }
        #expect(throws: GatewayError.self) { try classify(#"{"eventCode":"Payment"}"#, msgID: String(repeating: "a", count: 33)) }
        _ = try classify(#"{"eventCode":"Payment"}"#, msgID: String(repeating: "a", count: 32))
    }

    @Test func metadataLimitIsConfigurable() throws {
        var limits = Classifier.Limits()
        limits.maxMetadataLength = 1024
        let c = Classifier(limits: limits)
        let meta = String(repeating: "m", count: 800)
        _ = try c.classify(source: "s", msgID: "m", rawBody: Array("{\"eventCode\":\"Payment\",\"metadata\":\"\(meta)\"}".utf8))
    }

    /// An event is a value: changing a copy (the ingress stamps the receive time and the kept
    /// headers) never shows through another copy, though copies share one box until then.
    @Test func copiesOfAnEventAreIndependent() throws {
        let original = try classify(#"{"eventCode":"Refund","refund":{"status":"Success"}}"#, msgID: "m-orig")
        var copy = original
        copy.receivedMs = 42
        copy.keptHeaders = [KeptHeader("DateTime", "x")]
        copy.msgID = "m-copy"
        copy.transaction.status = "Failed"
        #expect(original.receivedMs == 0 && original.keptHeaders.isEmpty && original.msgID == "m-orig")
        #expect(original.transaction.status == "Success")
        #expect(copy.receivedMs == 42 && copy.keptHeaders.count == 1 && copy.msgID == "m-copy" && copy.transaction.status == "Failed")
        var third = copy
        third.receivedMs = 7
        #expect(copy.receivedMs == 42 && third.receivedMs == 7 && third.msgID == "m-copy")
    }
}
