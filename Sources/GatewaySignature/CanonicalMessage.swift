/// The provider's string to sign, in one place so its details can be changed in one place.
///
/// Elements joined with a single `\n`:
/// 1. the HTTP method, upper case;
/// 2. the request target as sent, query string included;
/// 3. the `DateTime` header value;
/// 4. the shared sign key (left out for `SM2withSM3`, which is signed with a private key);
/// 5. the `MsgID` header value;
/// 6. the raw body, byte for byte; this element and its `\n` are left out when the body is empty.
///
/// For example (SHA256, key `k3y`): `POST\n/webhooks/evo\n2026-11-22T10:00:00+08:00\nk3y\n`
/// `0123456789abcdef0123456789abcdef\n{"eventCode":"Payment"}`.
public struct CanonicalMessage: Sendable {
    public var method: String
    public var target: String
    public var dateTime: String
    public var msgID: String
    public var body: [UInt8]

    public init(method: String, target: String, dateTime: String, msgID: String, body: [UInt8]) {
        self.method = method
        self.target = target
        self.dateTime = dateTime
        self.msgID = msgID
        self.body = body
    }

    /// The message as byte chunks whose concatenation is the string to sign, so the body is never
    /// copied. `key` is nil for SM2withSM3.
    public func parts(key: String?) -> [[UInt8]] {
        let head = self.head(key: key)
        return body.isEmpty ? [head] : [head, body]
    }

    /// Everything before the body (with the line break before it when there is a body): the
    /// body is then fed to a digest as it is, without an array of the two parts (an allocation
    /// per verification).
    public func head(key: String?) -> [UInt8] {
        var head: [UInt8] = []
        head.reserveCapacity(method.utf8.count + target.utf8.count + dateTime.utf8.count + (key?.utf8.count ?? 0) + msgID.utf8.count + 5)
        for b in method.utf8 { head.append(b >= 0x61 && b <= 0x7A ? b - 0x20 : b) }  // ASCII upper case
        head.append(0x0A)
        head.append(contentsOf: target.utf8)
        head.append(0x0A)
        head.append(contentsOf: dateTime.utf8)
        head.append(0x0A)
        if let key {
            head.append(contentsOf: key.utf8)
            head.append(0x0A)
        }
        head.append(contentsOf: msgID.utf8)
        if !body.isEmpty { head.append(0x0A) }
        return head
    }

    /// The whole string to sign (for tests and debugging tools; never logged: it contains the key).
    public func bytes(key: String?) -> [UInt8] {
        parts(key: key).flatMap { $0 }
    }
}
