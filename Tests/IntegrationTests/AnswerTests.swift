import Foundation
import GatewayCore
import GatewayCrypto
import GatewayHTTP
import GatewaySignature
import GatewayTestKit
import Testing

/// Every answer of the ingress table, against the real binary over loopback.
@Suite("Gateway answers")
struct AnswerTests {
    @Test func acceptsEverySignType() throws {
        let sm2 = try SM2PrivateKey(pem: Array(try Data(contentsOf: URL(fileURLWithPath: sm2PrivateKeyPath))))
        try withGateway { gw in
            let c = try TestClient(port: gw.port)
            for type in SignType.allCases {
                var r = SignedRequest.payment()
                r.signType = type
                r.sm2Key = sm2
                let answer = try c.roundTrip(r.bytes)
                #expect(answer.status == 200, "\(type): \(answer.bodyText)")
                #expect(answer.bodyText == "SUCCESS")
            }
            // SM2 signatures also arrive as hex, either case.
            var r = SignedRequest.payment()
            r.signType = .sm2WithSM3
            r.sm2Key = sm2
            let b64 = r.authorization
            r.authorizationOverride = Hex.encode(Base64.decode(b64) ?? [], uppercase: true)
            #expect(try c.roundTrip(r.bytes).status == 200)
            r.authorizationOverride = r.authorizationOverride?.lowercased()
            #expect(try c.roundTrip(r.bytes).status == 200)
            #expect(gw.waitForLine { $0.contains("notification accepted") && $0.contains("\"signType\":\"SM2withSM3\"") } != nil)
        }
    }

    @Test func unauthorizedAnswers() throws {
        try withGateway { gw in
            let c = try TestClient(port: gw.port)
            func check(_ r: SignedRequest, _ message: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
                let a = try c.roundTrip(r.bytes)
                #expect(a.status == 401, sourceLocation: sourceLocation)
                #expect(jsonError(a) == message, "\(a.bodyText)", sourceLocation: sourceLocation)
                #expect(a.headers["Content-Type"] == "application/json", sourceLocation: sourceLocation)
                #expect(!a.bodyText.contains("test-sign-key"), sourceLocation: sourceLocation)
            }
            var r = SignedRequest.payment()
            r.omit = ["Authorization"]
            try check(r, "missing Authorization header")
            r = SignedRequest.payment(key: "wrong-key")
            try check(r, "signature does not match")
            r = SignedRequest.payment()
            r.omit = ["SignType"]
            try check(r, "missing SignType header")
            r = SignedRequest.payment()
            r.extraHeaders = [("SignType", "MD5")]
            try check(r, "unsupported SignType")
            r = SignedRequest.payment()
            r.omit = ["DateTime"]
            try check(r, "missing DateTime header")
            r = SignedRequest.payment()
            r.omit = ["MsgID"]
            try check(r, "missing MsgID header")
            // Tampered body with the original signature.
            r = SignedRequest.payment()
            let auth = r.authorization
            r.body[r.body.count - 3] = UInt8(ascii: "X")
            r.authorizationOverride = auth
            try check(r, "signature does not match")
            // The same connection still serves a good request after refusals (401 keeps it open).
            #expect(try c.roundTrip(SignedRequest.payment().bytes).status == 200)
            #expect(gw.waitForLine { $0.contains("signature_mismatch") } != nil)
        }
    }

    @Test func signTypeAndDateTimeWindowPerSource() throws {
        try withGateway { gw in
            let c = try TestClient(port: gw.port)
            var r = SignedRequest.payment(key: "strict-key")
            r.target = "/webhooks/strict"
            r.signType = .hmacSHA256
            r.dateTime = nowDateTime()
            let ok = try c.roundTrip(r.bytes)
            #expect(ok.status == 202)
            #expect(ok.bodyText == #"{"ok":true}"#)
            #expect(ok.headers["Content-Type"] == "application/json")
            r.signType = .sha256
            r.msgID = "new-msg-1"
            var a = try c.roundTrip(r.bytes)
            #expect(a.status == 401 && jsonError(a) == "SignType SHA256 is not allowed for this source")
            r.signType = .hmacSHA256
            r.dateTime = nowDateTime(offsetSeconds: -3600)
            a = try c.roundTrip(r.bytes)
            #expect(a.status == 401 && jsonError(a) == "DateTime is outside the allowed window")
            // The English pages' odd `Zhh:mm` form means +hh:mm.
            r.dateTime = nowDateTime().replacing("+08:00", with: "Z08:00")
            #expect(try c.roundTrip(r.bytes).status == 202)
            r.dateTime = "not a time"
            a = try c.roundTrip(r.bytes)
            #expect(a.status == 401 && jsonError(a) == "DateTime is not a valid timestamp")
        }
    }

    @Test func signedPathIncludesTheQueryString() throws {
        try withGateway { gw in
            let c = try TestClient(port: gw.port)
            var r = SignedRequest.payment()
            r.target = "/webhooks/evo?tenant=acme"
            #expect(try c.roundTrip(r.bytes).status == 200)
            let auth = r.authorization
            r.target = "/webhooks/evo?tenant=other"
            r.authorizationOverride = auth
            #expect(try c.roundTrip(r.bytes).status == 401)
        }
    }

    @Test func badRequestAnswersForSignedBodies() throws {
        try withGateway { gw in
            var c = try TestClient(port: gw.port)
            let cases: [(String, String)] = [
                ("{not json", "body is not valid JSON"),
                ("[1,2]", "body must be a JSON object"),
                (#"{"payment":{}}"#, "eventCode is missing"),
                (#"{"eventCode":42}"#, "eventCode must be a string"),
                ("{\"eventCode\":\"\(String(repeating: "E", count: 33))\"}", "eventCode must have 1 to 32 characters"),
                (#"{"eventCode":"Payment\r\nX-Injected: 1"}"#, "eventCode must not contain control characters"),
                ("{\"eventCode\":\"Payment\",\"metadata\":\"\(String(repeating: "m", count: 513))\"}", "metadata is longer than 512 characters"),
                (#"{"eventCode":"Payment","metadata":7}"#, "metadata must be a string"),
                (String(repeating: "[", count: 100) + String(repeating: "]", count: 100), "body is not valid JSON"),
            ]
            // Each 400 closes the connection (malformed content is hostile or broken input).
            for (body, prefix) in cases {
                c = try TestClient(port: gw.port)
                let a = try c.roundTrip(SignedRequest(body: body).bytes)
                #expect(a.status == 400, "\(body.prefix(40))")
                #expect(jsonError(a)?.hasPrefix(prefix) == true, "\(a.bodyText)")
                #expect(a.headers["Connection"] == "close")
                #expect(c.closedByServer())
            }
            c = try TestClient(port: gw.port)
            var r = SignedRequest.payment()
            r.msgID = String(repeating: "a", count: 33)
            let a = try c.roundTrip(r.bytes)
            #expect(a.status == 400 && jsonError(a) == "MsgID is longer than 32 characters")
            c = try TestClient(port: gw.port)
            // An unsigned bad body is a signature problem first (the signature is checked before parsing).
            var unsigned = SignedRequest(body: "{not json")
            unsigned.authorizationOverride = String(repeating: "0", count: 64)
            #expect(try c.roundTrip(unsigned.bytes).status == 401)
        }
    }

    @Test func unknownEventCodesAreAcknowledged() throws {
        try withGateway { gw in
            let c = try TestClient(port: gw.port)
            let a = try c.roundTrip(SignedRequest(body: #"{"eventCode":"SomethingNew","x":1}"#).bytes)
            #expect(a.status == 200 && a.bodyText == "SUCCESS")
            #expect(gw.waitForLine { $0.contains("\"eventCode\":\"SomethingNew\"") && $0.contains("\"known\":false") } != nil)
        }
    }

    @Test func notFoundAndMethodNotAllowed() throws {
        try withGateway { gw in
            let c = try TestClient(port: gw.port)
            var a = try c.roundTrip(Array("POST /nope HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}".utf8))
            #expect(a.status == 404 && jsonError(a) == "no notification source at this path")
            // The source path matches without its query string.
            a = try c.roundTrip(Array("GET /webhooks/evo?x=1 HTTP/1.1\r\nHost: x\r\n\r\n".utf8))
            #expect(a.status == 405)
            #expect(a.headers["Allow"] == "POST")
            #expect(jsonError(a) == "use POST")
            try c.send("HEAD /webhooks/evo HTTP/1.1\r\nHost: x\r\n\r\n")
            a = try c.read(head: true)
            #expect(a.status == 405 && a.body.isEmpty)
            #expect(try c.roundTrip(SignedRequest.payment().bytes).status == 200)
        }
    }

    /// Twice: answers sent in batches through io_uring (the default where the kernel allows) and
    /// one `send()` each (`GATEWAY_IO_URING=off`).
    @Test(arguments: ["on", "off"]) func protocolErrorsAre400ThenClose(ioUring: String) throws {
        try withGateway(environment: ["GATEWAY_IO_URING": ioUring]) { gw in
            let shapes = [
                "GARBAGE\r\n\r\n",
                "POST /webhooks/evo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
                "POST /webhooks/evo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello",
                "POST /webhooks/evo HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n",
                "POST /webhooks/evo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nxyz\r\n",
                "POST /webhooks/evo HTTP/1.1\r\nHost : x\r\n\r\n",
                "POST /webhooks/evo HTTP/1.1\r\nHost: x\r\nX-A: a\u{1}b\r\n\r\n",
                "POST /webhooks/evo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, identity\r\n\r\n",
            ]
            for shape in shapes {
                let c = try TestClient(port: gw.port)
                let a = try c.roundTrip(Array(shape.utf8))
                #expect(a.status == 400, "\(shape.debugDescription)")
                #expect(a.headers["Connection"] == "close")
                #expect(jsonError(a) != nil)
                #expect(c.closedByServer(), "connection left open after \(shape.debugDescription)")
            }
            // Pipelined garbage after a valid request: the valid one is answered, then 400, then close.
            let c = try TestClient(port: gw.port)
            try c.send(SignedRequest.payment().bytes + Array("\u{0}\u{1}garbage\r\n\r\n".utf8))
            #expect(try c.read().status == 200)
            #expect(try c.read().status == 400)
            #expect(c.closedByServer())
            // The server is still serving.
            #expect(try TestClient(port: gw.port).roundTrip(SignedRequest.payment().bytes).status == 200)
        }
    }

    @Test func limitsAnswer413And414And431() throws {
        try withGateway { gw in
            var c = try TestClient(port: gw.port)
            var big = SignedRequest(body: "{\"eventCode\":\"Payment\",\"x\":\"\(String(repeating: "x", count: 5000))\"}")
            var a = try c.roundTrip(big.bytes)
            #expect(a.status == 413)
            #expect(c.closedByServer())
            c = try TestClient(port: gw.port)
            big.chunked = true
            a = try c.roundTrip(big.bytes)
            #expect(a.status == 413)
            c = try TestClient(port: gw.port)
            a = try c.roundTrip(Array("POST /\(String(repeating: "a", count: 400)) HTTP/1.1\r\nHost: x\r\n\r\n".utf8))
            #expect(a.status == 414)
            c = try TestClient(port: gw.port)
            let many = (0..<60).map { "X-H\($0): v\r\n" }.joined()
            a = try c.roundTrip(Array("POST /webhooks/evo HTTP/1.1\r\nHost: x\r\n\(many)\r\n".utf8))
            #expect(a.status == 431)
            #expect(jsonError(a) != nil)
        }
    }

    @Test(arguments: ["on", "off"]) func keepAlivePipeliningChunkedAndExpectContinue(ioUring: String) throws {
        try withGateway(environment: ["GATEWAY_IO_URING": ioUring]) { gw in
            // The start line says which way answers go (this machine's kernel has io_uring).
            let mode = "\"ioUring\":\(ioUring == "off" ? "false" : "true")"
            #expect(gw.output.contains { $0.contains("\"gateway listening\"") && $0.contains(mode) })
            let c = try TestClient(port: gw.port)
            // Keep-alive: several requests on one connection.
            for _ in 0..<5 { #expect(try c.roundTrip(SignedRequest.payment().bytes).status == 200) }
            // Pipelined: three requests in one write, answered in order (a 401 in the middle).
            let bad = SignedRequest.payment(key: "nope")
            var strict = SignedRequest.payment(key: "strict-key")
            strict.target = "/webhooks/strict"
            strict.signType = .hmacSHA256
            strict.dateTime = nowDateTime()
            try c.send(SignedRequest.payment().bytes + bad.bytes + strict.bytes)
            #expect(try c.read().status == 200)
            #expect(try c.read().status == 401)
            #expect(try c.read().status == 202)
            // Chunked body, signed over the de-chunked bytes.
            var chunked = SignedRequest.payment()
            chunked.chunked = true
            #expect(try c.roundTrip(chunked.bytes).status == 200)
            // Expect: 100-continue: the interim answer comes before the body is sent.
            var r = SignedRequest.payment()
            r.extraHeaders = [("Expect", "100-continue")]
            let (head, body) = r.headAndBody
            try c.send(head)
            let interim = try c.connection.readExactly(25)
            #expect(String(decoding: interim, as: UTF8.self) == "HTTP/1.1 100 Continue\r\n\r\n")
            try c.send(body)
            #expect(try c.read().status == 200)
            // Connection: close is honoured.
            var last = SignedRequest.payment()
            last.connectionClose = true
            let a = try c.roundTrip(last.bytes)
            #expect(a.status == 200 && a.headers["Connection"] == "close")
            #expect(c.closedByServer())
        }
    }

    @Test func adminHealthAndReadiness() throws {
        try withGateway { gw in
            let c = try TestClient(port: gw.adminPort)
            var a = try c.roundTrip(Array("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n".utf8))
            #expect(a.status == 200 && a.bodyText.contains("ok"))
            a = try c.roundTrip(Array("GET /readyz HTTP/1.1\r\nHost: x\r\n\r\n".utf8))
            #expect(a.status == 200 && a.bodyText.contains("ready"))
            a = try c.roundTrip(Array("POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n".utf8))
            #expect(a.status == 405 && a.headers["Allow"] == "GET, HEAD")
            a = try c.roundTrip(Array("GET /nope HTTP/1.1\r\nHost: x\r\n\r\n".utf8))
            #expect(a.status == 404)
            // The public port does not serve admin endpoints.
            let p = try TestClient(port: gw.port)
            #expect(try p.roundTrip(Array("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n".utf8)).status == 404)
        }
    }

    @Test func logsNeverCarryCardDataOrKeys() throws {
        try withGateway { gw in
            let c = try TestClient(port: gw.port)
            _ = try c.roundTrip(SignedRequest.payment().bytes)
            _ = try c.roundTrip(SignedRequest.payment(key: "wrong").bytes)
            _ = try c.roundTrip(SignedRequest(body: #"{"eventCode":"Payment","paymentMethod":{"card":{"holderName":"JANE DOE"}},"pan":"4111111111111111"}"#).bytes)
            #expect(gw.waitForLine { $0.contains("signature_mismatch") } != nil)
            gw.stop()
            let all = gw.output.joined(separator: "\n")
            #expect(all.contains("notification accepted"))
            for secret in ["test-sign-key", "strict-key", "JANE DOE", "4111111111111111", "holderName"] {
                #expect(!all.contains(secret), "\(secret) leaked into the log")
            }
        }
    }
}
