import Foundation
import GatewayCore
import GatewayCrypto
import Testing

@testable import GatewaySignature

/// One vector from Fixtures/vectors.json (made by make-vectors.py with the openssl CLI).
struct Vector: Decodable, CustomStringConvertible {
    var name: String
    var signType: String
    var method: String
    var target: String
    var dateTime: String
    var msgID: String
    var key: String?
    var bodyBase64: String
    var authorization: String

    var body: [UInt8] { Base64.decode(bodyBase64) ?? [] }
    var type: SignType { SignType(name: signType) ?? .sha256 }
    var description: String { name }
}

enum Fixtures {
    static func url(_ name: String) -> URL {
        Bundle.module.url(forResource: "Fixtures/\(name)", withExtension: nil)
            ?? URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/\(name)")
    }

    static let vectors: [Vector] = {
        struct File: Decodable { var vectors: [Vector] }
        guard let data = try? Data(contentsOf: url("vectors.json")), let f = try? JSONDecoder().decode(File.self, from: data) else {
            return []
        }
        return f.vectors
    }()

    static let sm2Public: SM2PublicKey? = try? SM2PublicKey(pem: Array((try? Data(contentsOf: url("sm2-test.pub"))) ?? Data()))
    static let sm2Private: SM2PrivateKey? = try? SM2PrivateKey(pem: Array((try? Data(contentsOf: url("sm2-test.key"))) ?? Data()))
}

@Suite("Signature vectors (openssl CLI)")
struct SignatureVectorTests {
    func verifier(for v: Vector) -> SignatureVerifier {
        SignatureVerifier(keys: v.key.map { [$0] } ?? [], allowed: SignType.allCases, sm2PublicKey: Fixtures.sm2Public, maxSkewSeconds: 0)
    }

    func headers(_ v: Vector, authorization: String? = nil) -> SignatureHeaders {
        SignatureHeaders(authorization: authorization ?? v.authorization, signType: v.signType, dateTime: v.dateTime, msgID: v.msgID)
    }

    @Test func fixturesLoaded() {
        #expect(Fixtures.vectors.count >= 30)
        #expect(Fixtures.sm2Public != nil)
        #expect(Fixtures.sm2Private != nil)
    }

    @Test(arguments: Fixtures.vectors)
    func validSignaturesVerify(_ v: Vector) throws {
        let t = try verifier(for: v).verify(method: v.method, target: v.target, headers: headers(v), body: v.body, now: 0)
        #expect(t == v.type)
    }

    @Test(arguments: Fixtures.vectors)
    func caseOfHexDoesNotMatter(_ v: Vector) throws {
        guard v.type != .sm2WithSM3 || Hex.isHex(v.authorization) else { return }
        for auth in [v.authorization.lowercased(), v.authorization.uppercased()] {
            try verifier(for: v).verify(method: v.method, target: v.target, headers: headers(v, authorization: auth), body: v.body, now: 0)
        }
    }

    @Test(arguments: Fixtures.vectors)
    func anyChangeBreaksTheSignature(_ v: Vector) {
        let ver = verifier(for: v)
        var tampered = v.body.isEmpty ? Array("x".utf8) : v.body
        tampered[tampered.count / 2] ^= 0x01
        let cases: [(String, String, SignatureHeaders, [UInt8])] = [
            ("body", v.target, headers(v), tampered),
            ("path", v.target + "x", headers(v), v.body),
            ("query dropped", String(v.target.split(separator: "?")[0]) == v.target ? "/other" : String(v.target.split(separator: "?")[0]), headers(v), v.body),
            ("datetime", v.target, SignatureHeaders(authorization: v.authorization, signType: v.signType, dateTime: v.dateTime + " ", msgID: v.msgID), v.body),
            ("msgid", v.target, SignatureHeaders(authorization: v.authorization, signType: v.signType, dateTime: v.dateTime, msgID: v.msgID + "0"), v.body),
        ]
        for (what, target, h, body) in cases {
            #expect(throws: GatewayError.self, "\(v.name): changed \(what) still verifies") {
                try ver.verify(method: v.method, target: target, headers: h, body: body, now: 0)
            }
        }
        if v.type.usesSharedKey {
            let wrongKey = SignatureVerifier(keys: ["not-the-key"], allowed: SignType.allCases, sm2PublicKey: nil, maxSkewSeconds: 0)
            #expect(throws: GatewayError.self) { try wrongKey.verify(method: v.method, target: v.target, headers: headers(v), body: v.body, now: 0) }
        }
    }

    @Test(arguments: Fixtures.vectors.filter { $0.type != .sm2WithSM3 })
    func ourSignerAgreesWithOpenSSL(_ v: Vector) throws {
        let m = CanonicalMessage(method: v.method, target: v.target, dateTime: v.dateTime, msgID: v.msgID, body: v.body)
        let ours = try SignatureSigner.sign(m, type: v.type, key: v.key)
        #expect(ours.lowercased() == v.authorization.lowercased())
    }

    @Test func sm2SignaturesFromOurSignerVerify() throws {
        let m = CanonicalMessage(method: "POST", target: "/webhooks/evo", dateTime: "2026-11-22T10:00:00+08:00", msgID: "m", body: Array("{}".utf8))
        let sig = try SignatureSigner.sign(m, type: .sm2WithSM3, key: nil, sm2PrivateKey: Fixtures.sm2Private)
        let v = SignatureVerifier(keys: [], allowed: [.sm2WithSM3], sm2PublicKey: Fixtures.sm2Public, maxSkewSeconds: 0)
        let h = SignatureHeaders(authorization: sig, signType: "SM2withSM3", dateTime: m.dateTime, msgID: m.msgID)
        try v.verify(method: "POST", target: m.target, headers: h, body: m.body, now: 0)
        // Signed with an empty distinguishing ID (OpenSSL 3's default) it must NOT verify.
        guard let key = Fixtures.sm2Private else { return }
        let emptyID = try key.sign(parts: m.parts(key: nil), id: [])
        let h2 = SignatureHeaders(authorization: Base64.encode(emptyID), signType: "SM2withSM3", dateTime: m.dateTime, msgID: m.msgID)
        #expect(throws: GatewayError.self) { try v.verify(method: "POST", target: m.target, headers: h2, body: m.body, now: 0) }
    }

    @Test func readmeExample() {
        let m = CanonicalMessage(
            method: "POST", target: "/webhooks/evo", dateTime: "2026-11-22T10:00:00+08:00", msgID: "0123456789abcdef0123456789abcdef",
            body: Array(#"{"eventCode":"Payment"}"#.utf8))
        #expect(
            String(decoding: m.bytes(key: "k3y"), as: UTF8.self)
                == "POST\n/webhooks/evo\n2026-11-22T10:00:00+08:00\nk3y\n0123456789abcdef0123456789abcdef\n{\"eventCode\":\"Payment\"}")
        let empty = CanonicalMessage(method: "post", target: "/x", dateTime: "d", msgID: "m", body: [])
        #expect(String(decoding: empty.bytes(key: "k"), as: UTF8.self) == "POST\n/x\nd\nk\nm")
        #expect(String(decoding: empty.bytes(key: nil), as: UTF8.self) == "POST\n/x\nd\nm")
    }
}
