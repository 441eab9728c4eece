import GatewayCore
import Testing

@testable import GatewayHTTP

@Suite("HTTP responses")
struct HTTPResponseTests {
    @Test func errorAnswersAreJSONWithTheRightStatusAndHeaders() {
        var out: [UInt8] = []
        HTTPResponse.error(GatewayError(.methodNotAllowed, "use POST")).serialize(keepAlive: true, date: nil, into: &out)
        let text = String(decoding: out, as: UTF8.self)
        #expect(text.hasPrefix("HTTP/1.1 405 Method Not Allowed\r\n"))
        #expect(text.contains("Allow: POST\r\n"))
        #expect(text.contains("Content-Type: application/json\r\n"))
        #expect(text.hasSuffix("\r\n\r\n{\"error\":\"use POST\"}"))
        #expect(!text.contains("Connection: close"))
    }

    @Test func closingAnswerSaysSoAndHeadAnswersHaveNoBody() {
        var out: [UInt8] = []
        HTTPResponse.text(200, "SUCCESS").serialize(keepAlive: false, date: "Sun, 22 Nov 2026 02:00:00 GMT", headOnly: true, into: &out)
        let text = String(decoding: out, as: UTF8.self)
        #expect(text.contains("Connection: close\r\n"))
        #expect(text.contains("Content-Length: 7\r\n"))
        #expect(text.contains("Date: Sun, 22 Nov 2026 02:00:00 GMT\r\n"))
        #expect(text.hasSuffix("\r\n\r\n"))
    }

    /// A prepared answer (its fixed part written once) serializes to the same bytes, in every
    /// framing; changing it afterwards drops the prepared part instead of sending stale bytes.
    @Test func preparedAnswersAreTheSameBytesAndForgetChanges() {
        func bytes(_ r: HTTPResponse, keepAlive: Bool, date: String?, headOnly: Bool) -> [UInt8] {
            var out: [UInt8] = [0x2A]  // appended after what is there
            r.serialize(keepAlive: keepAlive, date: date, headOnly: headOnly, into: &out)
            return out
        }
        let answers = [
            HTTPResponse.text(200, "SUCCESS"), HTTPResponse.error(GatewayError(.methodNotAllowed, "use POST")),
            HTTPResponse(status: 204, headers: [("X-A", "b\r\nInjected: 1")]),
        ]
        for r in answers {
            for keepAlive in [true, false] {
                for date in [nil, "Sun, 22 Nov 2026 02:00:00 GMT"] {
                    for headOnly in [false, true] {
                        #expect(bytes(r.prepared(), keepAlive: keepAlive, date: date, headOnly: headOnly) == bytes(r, keepAlive: keepAlive, date: date, headOnly: headOnly))
                    }
                }
            }
        }
        var changed = HTTPResponse.text(200, "SUCCESS").prepared()
        changed.headers.append(("X-Later", "1"))
        changed.body = Array("LONGER BODY".utf8)
        let text = String(decoding: bytes(changed, keepAlive: true, date: nil, headOnly: false), as: UTF8.self)
        #expect(text.contains("X-Later: 1\r\n") && text.contains("Content-Length: 11\r\n") && text.hasSuffix("LONGER BODY"))
        var restatused = HTTPResponse.text(200, "SUCCESS").prepared()
        restatused.status = 202
        #expect(String(decoding: bytes(restatused, keepAlive: true, date: nil, headOnly: false), as: UTF8.self).hasPrefix("*HTTP/1.1 202 "))
    }

    @Test func headerValuesCannotInjectLines() {
        var out: [UInt8] = []
        HTTPResponse(status: 200, headers: [("X-A", "a\r\nSet-Cookie: x")]).serialize(keepAlive: true, date: nil, into: &out)
        #expect(!String(decoding: out, as: UTF8.self).contains("\r\nSet-Cookie"))
    }

    @Test(arguments: [
        ("http://127.0.0.1:9000/ledger", "http", "127.0.0.1", 9000, "/ledger"),
        ("http://example.com", "http", "example.com", 80, "/"),
        ("https://user:pw@h.example:8443/a?b=c#frag", "https", "h.example", 8443, "/a?b=c"),
        ("http://[::1]:8080/x", "http", "::1", 8080, "/x"),
    ])
    func urlParts(_ text: String, _ scheme: String, _ host: String, _ port: Int, _ target: String) {
        let u = URLParts(text)
        #expect(u?.scheme == scheme)
        #expect(u?.host == host)
        #expect(u?.port == port)
        #expect(u?.target == target)
        #expect(u?.description.contains("pw") == false)
    }

    @Test func badURLsAreRefused() {
        #expect(URLParts("ftp://x/") == nil)
        #expect(URLParts("http://") == nil)
        #expect(URLParts("http://h:99999/") == nil)
        #expect(URLParts("no-scheme") == nil)
    }
}

@Suite("Query strings")
struct QueryStringTests {
    @Test func decodesPairs() {
        let q = QueryString(target: "/admin/deadletters?route=ledger%20eu&id=a%2Bb&flag&x=1+2&route=second&bad=%zz")
        #expect(q["route"] == "ledger eu")  // the first value wins
        #expect(q["id"] == "a+b")
        #expect(q["flag"] == "")
        #expect(q["x"] == "1 2")
        #expect(q["bad"] == "%zz")
        #expect(q["missing"] == nil)
        #expect(QueryString(target: "/no/query")["route"] == nil)
    }
}
