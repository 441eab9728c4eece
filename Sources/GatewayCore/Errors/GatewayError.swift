/// An error that ends a request with an answer to the client.
///
/// Every refusal the gateway sends is one of these: the HTTP parser's protocol errors, the
/// ingress pipeline's signature and validation failures, and overload answers. The mapping
/// from kind to status code lives in one place, `GatewayError+HTTPStatus.swift`.
///
/// `message` is shown to the client in `{"error": message}`. It must never contain secrets,
/// signatures, or data from the request body; build messages from fixed text and safe facts
/// (limits, header names).
public struct GatewayError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable, Hashable {
        /// Malformed HTTP, or a correctly signed notification that breaks the content rules.
        case badRequest
        /// Missing or wrong signature headers, signature mismatch, DateTime outside the window.
        case unauthorized
        /// Client address not allowed for the source.
        case forbidden
        case notFound
        case methodNotAllowed
        case requestTimeout
        case payloadTooLarge
        case uriTooLong
        case expectationFailed
        case headersTooLarge
        case tooManyRequests
        case notImplemented
        case versionNotSupported
        /// The gateway cannot take the request now (spool full, shutting down). Nothing was stored.
        case unavailable
        case internalError
    }

    public var kind: Kind
    public var message: String
    /// A stable, low-cardinality reason label for metrics and logs (e.g. `signature_mismatch`).
    public var reason: String
    /// For `.methodNotAllowed`: the `Allow` header value.
    public var allow: String
    /// For `.tooManyRequests` and `.unavailable`: the `Retry-After` seconds.
    public var retryAfterSeconds = 1

    public init(_ kind: Kind, _ message: String, reason: String? = nil, allow: String = "POST") {
        self.kind = kind
        self.message = message
        self.reason = reason ?? GatewayError.defaultReason(kind)
        self.allow = allow
    }

    public var description: String { "\(status) \(reason): \(message)" }

    private static func defaultReason(_ kind: Kind) -> String {
        switch kind {
        case .badRequest: "bad_request"
        case .unauthorized: "unauthorized"
        case .forbidden: "forbidden"
        case .notFound: "not_found"
        case .methodNotAllowed: "method_not_allowed"
        case .requestTimeout: "request_timeout"
        case .payloadTooLarge: "payload_too_large"
        case .uriTooLong: "uri_too_long"
        case .expectationFailed: "expectation_failed"
        case .headersTooLarge: "headers_too_large"
        case .tooManyRequests: "too_many_requests"
        case .notImplemented: "not_implemented"
        case .versionNotSupported: "version_not_supported"
        case .unavailable: "unavailable"
        case .internalError: "internal_error"
        }
    }
}
