import GatewayCore
import Testing

@testable import GatewaySignature

@Suite("Signature verifier rules")
struct SignatureVerifierTests {
    let body = Array(#"{"eventCode":"Payment"}"#.utf8)
    let dt = "2026-11-22T10:00:00+08:00"  // = 1795312800

    func signed(_ type: SignType = .sha256, key: String = "k3y", dateTime: String? = nil) throws -> SignatureHeaders {
        let d = dateTime ?? dt
        let m = CanonicalMessage(method: "POST", target: "/w", dateTime: d, msgID: "m1", body: body)
        return SignatureHeaders(authorization: try SignatureSigner.sign(m, type: type, key: key), signType: type.rawValue, dateTime: d, msgID: "m1")
    }

    func reason(_ v: SignatureVerifier, _ h: SignatureHeaders, now: Int64 = 1_795_312_800) -> String? {
        do {
            try v.verify(method: "POST", target: "/w", headers: h, body: body, now: now)
            return nil
        } catch {
            #expect(error.status == 401)
            #expect(!error.message.contains("k3y"))
            return error.reason
        }
    }

    @Test func headerChecksInOrder() throws {
        let v = SignatureVerifier(keys: ["k3y"], allowed: [.sha256], sm2PublicKey: nil, maxSkewSeconds: 0)
        var h = try signed()
        #expect(reason(v, h) == nil)
        h.authorization = nil
        #expect(reason(v, h) == "missing_authorization")
        h = try signed()
        h.signType = nil
        #expect(reason(v, h) == "missing_sign_type")
        h.signType = "MD5"
        #expect(reason(v, h) == "unsupported_sign_type")
        h = try signed(.sha512)
        #expect(reason(v, h) == "sign_type_not_allowed")
        h = try signed()
        h.dateTime = nil
        #expect(reason(v, h) == "missing_datetime")
        h = try signed()
        h.msgID = ""
        #expect(reason(v, h) == "missing_msgid")
        h = try signed()
        h.authorization = "not hex at all"
        #expect(reason(v, h) == "signature_mismatch")
        h = try signed()
        h.authorization = String((h.authorization ?? "").dropLast(2))
        #expect(reason(v, h) == "signature_mismatch")
    }

    @Test func signTypeNamesIgnoreCase() throws {
        let v = SignatureVerifier(keys: ["k3y"], allowed: [.hmacSHA256], sm2PublicKey: nil, maxSkewSeconds: 0)
        var h = try signed(.hmacSHA256)
        h.signType = "hmac-sha256"
        #expect(reason(v, h) == nil)
    }

    @Test func rotatedKeysAllVerify() throws {
        let v = SignatureVerifier(keys: ["old-key", "new-key"], allowed: [.sha256, .hmacSHA512], sm2PublicKey: nil, maxSkewSeconds: 0)
        #expect(reason(v, try signed(key: "old-key")) == nil)
        #expect(reason(v, try signed(.hmacSHA512, key: "new-key")) == nil)
        #expect(reason(v, try signed(key: "other-key")) == "signature_mismatch")
    }

    @Test func dateTimeWindow() throws {
        let v = SignatureVerifier(keys: ["k3y"], allowed: [.sha256], sm2PublicKey: nil, maxSkewSeconds: 300)
        #expect(reason(v, try signed(), now: 1_795_312_800 + 300) == nil)
        #expect(reason(v, try signed(), now: 1_795_312_800 - 300) == nil)
        #expect(reason(v, try signed(), now: 1_795_312_800 + 301) == "datetime_out_of_window")
        #expect(reason(v, try signed(dateTime: "2026-11-22T10:00:00Z08:00")) == nil)
        #expect(reason(v, try signed(dateTime: "2026-11-22T02:00:00Z")) == nil)
        #expect(reason(v, try signed(dateTime: "yesterday")) == "invalid_datetime")
        // Without a window, DateTime is only signed, not interpreted.
        let open = SignatureVerifier(keys: ["k3y"], allowed: [.sha256], sm2PublicKey: nil, maxSkewSeconds: 0)
        #expect(reason(open, try signed(dateTime: "yesterday"), now: 0) == nil)
    }

    @Test func sm2WithoutAKeyNeverVerifies() throws {
        let v = SignatureVerifier(keys: ["k3y"], allowed: [.sm2WithSM3], sm2PublicKey: nil, maxSkewSeconds: 0)
        let h = SignatureHeaders(authorization: "MEUCIQ==", signType: "SM2withSM3", dateTime: dt, msgID: "m1")
        #expect(reason(v, h) == "signature_mismatch")
    }
}

@Suite("DateTime header")
struct EVODateTimeTests {
    @Test(arguments: [
        ("2026-11-22T10:00:00+08:00", Int64(1_795_312_800)),
        ("2026-11-22T10:00:00Z08:00", 1_795_312_800),
        ("2026-11-22T10:00:00Z+08:00", 1_795_312_800),
        ("2026-11-22T02:00:00Z", 1_795_312_800),
        ("2026-11-22T02:00:00z", 1_795_312_800),
        ("2026-11-21T21:00:00-05:00", 1_795_312_800),
        ("2026-11-22T10:00:00+0800", 1_795_312_800),
        ("2026-11-22T10:00:00+08", 1_795_312_800),
        ("2026-11-22T10:00:00.123+08:00", 1_795_312_800),
        ("2026-11-22 10:00:00+08:00", 1_795_312_800),
        ("2020-03-04T15:39:40Z08:00", 1_583_307_580),
        ("2024-02-29T00:00:00Z", 1_709_164_800),
        ("1970-01-01T00:00:00+00:00", 0),
    ])
    func parses(_ text: String, _ expected: Int64) {
        #expect(EVODateTime.parse(text) == expected)
    }

    @Test(arguments: [
        "", "2026-11-22", "2026-11-22T10:00:00", "2026-13-01T00:00:00Z", "2026-02-29T00:00:00Z", "2026-11-31T00:00:00Z",
        "2026-11-22T24:00:00Z", "2026-11-22T10:60:00Z", "2026-11-22T10:00:00+19:00", "2026-11-22T10:00:00+08:00x",
        "2026-11-22T10:00:00 +08:00", "26-11-22T10:00:00Z", "2026-11-22T10:00:00.Z", "string",
    ])
    func refuses(_ text: String) {
        #expect(EVODateTime.parse(text) == nil)
    }

    @Test func formatRoundTrips() {
        for t in stride(from: Int64(0), to: 2_000_000_000, by: 12_345_678) {
            for off in [-300, 0, 480, 345] {
                #expect(EVODateTime.parse(EVODateTime.format(epochSeconds: t, offsetMinutes: off)) == t)
            }
        }
    }
}
