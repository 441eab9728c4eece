public import GatewayCore
public import GatewayCrypto

/// Verifies one source's notifications: headers present, sign type allowed, DateTime within the
/// window (when one is set), and the signature right, compared in constant time.
///
/// Every refusal is a `GatewayError` of kind `.unauthorized` (401) with a fixed message and a
/// reason label for metrics; no message contains the key, the signature or the expected value.
public struct SignatureVerifier: Sendable {
    public let keys: [Secret]
    public let allowed: Set<SignType>
    /// `allowed` as one bit per type: the check on every request tests a bit instead of hashing
    /// the type into the set (about 100 instructions).
    private let allowedBits: UInt8
    public let sm2PublicKey: SM2PublicKey?
    public let maxSkewSeconds: Int

    /// A sign key held as bytes. `description` never shows it.
    public struct Secret: Sendable, CustomStringConvertible {
        public let text: String
        public let bytes: [UInt8]
        public init(_ text: String) {
            self.text = text
            self.bytes = Array(text.utf8)
        }
        public var description: String { "[REDACTED]" }
    }

    public init(keys: [String], allowed: [SignType], sm2PublicKey: SM2PublicKey?, maxSkewSeconds: Int) {
        self.keys = keys.map(Secret.init)
        self.allowed = Set(allowed)
        self.allowedBits = allowed.reduce(0) { $0 | $1.bit }
        self.sm2PublicKey = sm2PublicKey
        self.maxSkewSeconds = maxSkewSeconds
    }

    static func refuse(_ message: String, _ reason: String) -> GatewayError {
        GatewayError(.unauthorized, message, reason: reason)
    }

    /// Checks a request; returns the sign type used.
    ///
    /// - Parameters:
    ///   - target: the raw request target as received (path and query).
    ///   - now: the current time in seconds since the epoch (injected for tests).
    @discardableResult
    public func verify(
        method: String, target: String, headers: SignatureHeaders, body: [UInt8], now: Int64
    ) throws(GatewayError) -> SignType {
        guard let authorization = headers.authorization, !authorization.isEmpty else {
            throw Self.refuse("missing Authorization header", "missing_authorization")
        }
        guard let typeName = headers.signType, !typeName.isEmpty else {
            throw Self.refuse("missing SignType header", "missing_sign_type")
        }
        guard let type = SignType(name: typeName) else {
            throw Self.refuse("unsupported SignType", "unsupported_sign_type")
        }
        guard allowedBits & type.bit != 0 else {
            throw Self.refuse("SignType \(type.rawValue) is not allowed for this source", "sign_type_not_allowed")
        }
        guard let dateTime = headers.dateTime, !dateTime.isEmpty else {
            throw Self.refuse("missing DateTime header", "missing_datetime")
        }
        guard let msgID = headers.msgID, !msgID.isEmpty else {
            throw Self.refuse("missing MsgID header", "missing_msgid")
        }
        if maxSkewSeconds > 0 {
            guard let t = EVODateTime.parse(dateTime) else {
                throw Self.refuse("DateTime is not a valid timestamp", "invalid_datetime")
            }
            guard abs(t - now) <= Int64(maxSkewSeconds) else {
                throw Self.refuse("DateTime is outside the allowed window", "datetime_out_of_window")
            }
        }
        let message = CanonicalMessage(method: method, target: target, dateTime: dateTime, msgID: msgID, body: body)
        guard check(type: type, authorization: authorization, message: message) else {
            throw Self.refuse("signature does not match", "signature_mismatch")
        }
        return type
    }

    func check(type: SignType, authorization: String, message: CanonicalMessage) -> Bool {
        switch type {
        case .sha256, .sha512, .hmacSHA256, .hmacSHA512:
            // Hex decoding makes the comparison case-insensitive; a value that is not hex cannot match.
            guard let provided = Hex.decode(authorization) else { return false }
            let algorithm: DigestAlgorithm = (type == .sha256 || type == .hmacSHA256) ? .sha256 : .sha512
            guard provided.count == algorithm.outputSize else { return false }
            var matched = false
            // Every key is tried (no early exit), so timing does not reveal which key matched.
            for key in keys {
                let expected: [UInt8]?
                switch type {
                case .sha256, .sha512:
                    let head = message.head(key: key.text)
                    expected = try? Digest.hash(algorithm) { update in
                        head.withUnsafeBytes { update($0) }
                        message.body.withUnsafeBytes { update($0) }
                    }
                default:
                    expected = try? HMAC.authenticate(algorithm, key: key.bytes, parts: message.parts(key: key.text))
                }
                if let expected, ConstantTime.equals(expected, provided) { matched = true }
            }
            return matched
        case .sm2WithSM3:
            guard let sm2PublicKey else { return false }
            let parts = message.parts(key: nil)
            for candidate in SignatureVerifier.sm2SignatureCandidates(authorization) {
                if sm2PublicKey.verify(signatureDER: candidate, parts: parts) { return true }
            }
            return false
        }
    }

    /// SM2 signatures arrive as base64 (usual) or hex (either case). A DER signature starts with
    /// 0x30, which base64 renders as 'M', never a hex digit, so hex text is tried as hex first and
    /// everything is also tried as base64.
    static func sm2SignatureCandidates(_ text: String) -> [[UInt8]] {
        var out: [[UInt8]] = []
        if Hex.isHex(text), let h = Hex.decode(text) { out.append(h) }
        if let b = Base64.decode(text), !b.isEmpty { out.append(b) }
        return out
    }
}

extension SignType {
    /// This type's bit in `SignatureVerifier.allowedBits`.
    fileprivate var bit: UInt8 {
        switch self {
        case .sha256: 1
        case .sha512: 2
        case .hmacSHA256: 4
        case .hmacSHA512: 8
        case .sm2WithSM3: 16
        }
    }
}
