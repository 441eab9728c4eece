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

    /// Every documented code is known and has its own sections; any other code is unknown
    /// and searched in the fallback sections (the index taken when a code is made must agree
    /// with the table it stands for).
    @Test func documentedCodesAndTheirSectionsAgree() {
        #expect(Set(EventCode.documented) == Set(EventCode.transactionSections.keys))
        #expect(EventCode.documented.count == Set(EventCode.documented).count)
        for code in EventCode.documented {
            let c = EventCode(code)
            #expect(c.isKnown, "\(code)")
            #expect(c.transactionSections == EventCode.transactionSections[code], "\(code)")
            #expect(c.transactionSectionPaths.map(\.name) == EventCode.transactionSections[code], "\(code)")
        }
        for code in ["Chargeback", "payment", "", "Payment "] {
            let c = EventCode(code)
            #expect(!c.isKnown && c.transactionSections == EventCode.fallbackSections, "\(code)")
            #expect(c.transactionSectionPaths.map(\.name) == EventCode.fallbackSections)
        }
    }

    /// The receive time and the kept headers travel with the event from the classifier (an
    /// event is never changed after it is made); without them they are empty.
    @Test func theStampIsCarriedFromTheClassifier() throws {
        let body = Array(#"{"eventCode":"Refund","refund":{"status":"Success"}}"#.utf8)
        let c = Classifier()
        let stamped = try c.classify(
            source: "s", msgID: "m-1", rawBody: body, receivedMs: 42, keptHeaders: [KeptHeader("DateTime", "x"), KeptHeader("SignType", "SHA256")])
        let copy = stamped
        #expect(copy.receivedMs == 42 && copy.keptHeaders == [KeptHeader("DateTime", "x"), KeptHeader("SignType", "SHA256")])
        #expect(copy.msgID == "m-1" && copy.transaction.status == "Success" && copy.rawBody == body)
        let plain = try c.classify(source: "s", msgID: "m-2", rawBody: body)
        #expect(plain.receivedMs == 0 && plain.keptHeaders.isEmpty && plain.msgID == "m-2")
    }
}
