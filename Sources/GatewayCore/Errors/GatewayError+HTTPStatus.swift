/// The single table from error kind to HTTP answer.
///
/// | kind                | status | extra headers     | connection after answer |
/// |---------------------|--------|-------------------|-------------------------|
/// | badRequest          | 400    |                   | closed                  |
/// | unauthorized        | 401    |                   | kept                    |
/// | forbidden           | 403    |                   | kept                    |
/// | notFound            | 404    |                   | kept                    |
/// | methodNotAllowed    | 405    | `Allow` (POST)    | kept                    |
/// | requestTimeout      | 408    |                   | closed                  |
/// | payloadTooLarge     | 413    |                   | closed                  |
/// | uriTooLong          | 414    |                   | closed                  |
/// | expectationFailed   | 417    |                   | closed                  |
/// | headersTooLarge     | 431    |                   | closed                  |
/// | tooManyRequests     | 429    | `Retry-After: 1`  | kept                    |
/// | internalError       | 500    |                   | kept                    |
/// | notImplemented      | 501    |                   | closed                  |
/// | unavailable         | 503    | `Retry-After: 1`  | kept                    |
/// | versionNotSupported | 505    |                   | closed                  |
///
/// Whether the connection closes is decided by the layer that raised the error: the HTTP parser
/// closes after every error it raises (the byte stream can no longer be trusted: no request
/// smuggling); the ingress pipeline closes after a 400 (malformed content: deep nesting, huge
/// numbers, invalid UTF-8 are hostile or broken input) and keeps well-framed connections open
/// for the other refusals (401, 403, 404, 405, 429, 503), which honest clients hit too.
extension GatewayError {
    public var status: Int {
        switch kind {
        case .badRequest: 400
        case .unauthorized: 401
        case .forbidden: 403
        case .notFound: 404
        case .methodNotAllowed: 405
        case .requestTimeout: 408
        case .payloadTooLarge: 413
        case .uriTooLong: 414
        case .expectationFailed: 417
        case .tooManyRequests: 429
        case .headersTooLarge: 431
        case .internalError: 500
        case .notImplemented: 501
        case .unavailable: 503
        case .versionNotSupported: 505
        }
    }

    /// Headers the answer must carry besides the framing ones.
    public var extraHeaders: [(String, String)] {
        switch kind {
        case .methodNotAllowed: [("Allow", allow)]
        case .tooManyRequests, .unavailable: [("Retry-After", String(retryAfterSeconds))]
        default: []
        }
    }

    /// The JSON answer body: `{"error":"<message>"}`.
    public var jsonBody: [UInt8] {
        var out: [UInt8] = Array("{\"error\":".utf8)
        JSONValue.writeString(message, to: &out)
        out.append(UInt8(ascii: "}"))
        return out
    }

    /// Reason phrase for the status line.
    public static func reasonPhrase(_ status: Int) -> String {
        switch status {
        case 100: "Continue"
        case 200: "OK"
        case 201: "Created"
        case 202: "Accepted"
        case 204: "No Content"
        case 400: "Bad Request"
        case 401: "Unauthorized"
        case 403: "Forbidden"
        case 404: "Not Found"
        case 405: "Method Not Allowed"
        case 408: "Request Timeout"
        case 413: "Content Too Large"
        case 414: "URI Too Long"
        case 417: "Expectation Failed"
        case 429: "Too Many Requests"
        case 431: "Request Header Fields Too Large"
        case 500: "Internal Server Error"
        case 501: "Not Implemented"
        case 503: "Service Unavailable"
        case 505: "HTTP Version Not Supported"
        default: "Status"
        }
    }
}
