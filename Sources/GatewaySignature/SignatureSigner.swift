public import GatewayCore
public import GatewayCrypto

/// Signs notifications the way the provider does: for `gateway send`, tests and benchmarks.
public enum SignatureSigner {
    /// The `Authorization` value for `message`.
    ///
    /// SHA and HMAC results are lower-case hex; SM2 signatures are base64 of the DER encoding.
    public static func sign(
        _ message: CanonicalMessage, type: SignType, key: String?, sm2PrivateKey: SM2PrivateKey? = nil
    ) throws -> String {
        switch type {
        case .sha256, .sha512:
            let k = try requireKey(key, type)
            return Hex.encode(try Digest.hash(type == .sha256 ? .sha256 : .sha512, parts: message.parts(key: k)))
        case .hmacSHA256, .hmacSHA512:
            let k = try requireKey(key, type)
            return Hex.encode(
                try HMAC.authenticate(
                    type == .hmacSHA256 ? .sha256 : .sha512, key: Array(k.utf8), parts: message.parts(key: k)))
        case .sm2WithSM3:
            guard let sm2PrivateKey else {
                throw SigningError(message: "SM2withSM3 needs an SM2 private key")
            }
            return Base64.encode(try sm2PrivateKey.sign(parts: message.parts(key: nil)))
        }
    }

    private static func requireKey(_ key: String?, _ type: SignType) throws -> String {
        guard let key, !key.isEmpty else { throw SigningError(message: "\(type.rawValue) needs a sign key") }
        return key
    }
}

public struct SigningError: Error, CustomStringConvertible {
    public var message: String
    public var description: String { message }
}
