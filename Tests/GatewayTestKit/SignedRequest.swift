import GatewayCore
import GatewayCrypto
import GatewaySignature

/// Builds a correctly signed notification request, as raw HTTP/1.1 bytes.
public struct SignedRequest {
    public var method = "POST"
    public var target = "/webhooks/evo"
    public var body: [UInt8]
    public var key: String?
    public var signType = SignType.sha256
    public var dateTime = "2026-11-22T10:00:00+08:00"
    public var msgID: String
    public var sm2Key: SM2PrivateKey?
    /// Headers added after signing (or replacing the signed ones when the name matches).
    public var extraHeaders: [(String, String)] = []
    /// Names of signature headers to leave out.
    public var omit: Set<String> = []
    public var authorizationOverride: String?
    public var chunked = false
    public var connectionClose = false

    public init(body: String, key: String? = "test-sign-key", msgID: String? = nil) {
        self.body = Array(body.utf8)
        self.key = key
        self.msgID = msgID ?? Hex.encode(SecureRandom.bytes(16))
    }

    public static func payment(key: String = "test-sign-key", merchantTransID: String? = nil) -> SignedRequest {
        let mt = merchantTransID ?? "MT" + Hex.encode(SecureRandom.bytes(6))
        return SignedRequest(
            body: #"{"eventCode":"Payment","metadata":"order 42","payment":{"status":"Success","merchantTransInfo":{"merchantTransID":"\#(mt)"},"transAmount":{"currency":"USD","value":"10.00"}},"paymentMethod":{"card":{"holderName":"JANE DOE","first6No":"411111","last4No":"1111"}}}"#,
            key: key)
    }

    public var authorization: String {
        if let a = authorizationOverride { return a }
        let m = CanonicalMessage(method: method, target: target, dateTime: dateTime, msgID: msgID, body: body)
        return (try? SignatureSigner.sign(m, type: signType, key: key, sm2PrivateKey: sm2Key)) ?? "signing-failed"
    }

    /// `bytes` split after the blank line that ends the head (for `Expect: 100-continue`).
    public var headAndBody: (head: [UInt8], body: [UInt8]) {
        let all = bytes
        let end = all.indices.first { $0 + 3 < all.count && all[$0] == 13 && all[$0 + 1] == 10 && all[$0 + 2] == 13 && all[$0 + 3] == 10 }
            .map { $0 + 4 } ?? all.count
        return (Array(all[..<end]), Array(all[end...]))
    }

    public var bytes: [UInt8] {
        var headers: [(String, String)] = [
            ("Host", "127.0.0.1"), ("Content-Type", "application/json"), ("DateTime", dateTime), ("MsgID", msgID),
            ("SignType", signType.rawValue), ("Authorization", authorization),
        ]
        headers.removeAll { omit.contains($0.0) }
        for (n, v) in extraHeaders {
            if let i = headers.firstIndex(where: { $0.0.lowercased() == n.lowercased() }) { headers[i].1 = v } else { headers.append((n, v)) }
        }
        if connectionClose { headers.append(("Connection", "close")) }
        var text = "\(method) \(target) HTTP/1.1\r\n"
        for (n, v) in headers { text += "\(n): \(v)\r\n" }
        if chunked {
            text += "Transfer-Encoding: chunked\r\n\r\n"
            var out = Array(text.utf8)
            var i = 0
            while i < body.count {
                let n = min(7, body.count - i)
                out += Array("\(String(n, radix: 16))\r\n".utf8) + Array(body[i..<(i + n)]) + Array("\r\n".utf8)
                i += n
            }
            return out + Array("0\r\n\r\n".utf8)
        }
        text += "Content-Length: \(body.count)\r\n\r\n"
        return Array(text.utf8) + body
    }
}
