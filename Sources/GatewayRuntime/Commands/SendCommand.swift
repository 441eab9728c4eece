import Foundation
import GatewayCore
import GatewayCrypto
import GatewayHTTP
import GatewaySignature

/// `gateway send`: sign one notification the way the provider does and send it.
public enum SendCommand {
    public struct Options {
        public var url: String?
        public var signKey: String?
        public var signType = "SHA256"
        public var eventCode: String?
        public var bodyFile: String?
        public var sm2KeyFile: String?
        public var msgID: String?
        public var dateTime: String?
        public var headers: [(String, String)] = []
        public var timeoutMs = 10_000
        public var verbose = false
        public init() {}
    }

    public static let usage = """
        usage: gateway send --url URL [--event-code CODE | --body FILE] [options]

          --url URL            where to send (http://host:port/path; the path is part of the signature)
          --event-code CODE    a built-in sample: \(Samples.eventCodes.joined(separator: ", "))
          --body FILE          send this file's bytes as the body instead (- for stdin)
          --sign-type TYPE     SHA256 (default), SHA512, HMAC-SHA256, HMAC-SHA512, SM2withSM3
          --sign-key KEY       shared sign key (or env GATEWAY_SIGN_KEY, or --sign-key-file FILE)
          --sign-key-file FILE read the sign key from FILE (trailing newline trimmed)
          --sm2-key PEM        SM2 private key file, for --sign-type SM2withSM3
          --msg-id ID          MsgID header (default: fresh random)
          --datetime VALUE     DateTime header (default: now, +08:00)
          --header 'K: V'      extra header (repeatable)
          --timeout-ms N       connect/answer timeout (default 10000)
          -v, --verbose        also print the request headers sent

        Prints the answer's status and body; exits 0 only on a 2xx answer.
        """

    public static func run(_ o: Options) -> Int32 {
        guard let urlText = o.url else {
            printError("gateway send: --url is required\n\n\(usage)")
            return 2
        }
        guard let url = URLParts(urlText) else {
            printError("gateway send: --url must be an http:// URL, found '\(urlText)'")
            return 2
        }
        guard let type = SignType(name: o.signType) else {
            printError("gateway send: unknown --sign-type '\(o.signType)'; use \(SignType.allCases.map(\.rawValue).joined(separator: ", "))")
            return 2
        }
        let now = Int64(Date().timeIntervalSince1970)
        var body: [UInt8]
        switch (o.eventCode, o.bodyFile) {
        case (let code?, nil):
            guard let sample = Samples.body(eventCode: code, now: now) else {
                printError("gateway send: no built-in sample for '\(code)'; use one of \(Samples.eventCodes.joined(separator: ", ")) or --body FILE")
                return 2
            }
            body = sample.serialized()
        case (nil, let file?):
            let data = file == "-" ? FileHandle.standardInput.readDataToEndOfFile() : FileManager.default.contents(atPath: file)
            guard let data else {
                printError("gateway send: cannot read --body file '\(file)'")
                return 2
            }
            body = Array(data)
        case (nil, nil):
            body = Samples.body(eventCode: "Payment", now: now)?.serialized() ?? []
        default:
            printError("gateway send: give either --event-code or --body, not both")
            return 2
        }
        var key = o.signKey ?? ProcessInfo.processInfo.environment["GATEWAY_SIGN_KEY"]
        var sm2: SM2PrivateKey? = nil
        if type == .sm2WithSM3 {
            guard let f = o.sm2KeyFile, let pem = FileManager.default.contents(atPath: f) else {
                printError("gateway send: SM2withSM3 needs --sm2-key with a readable PEM private key")
                return 2
            }
            do {
                sm2 = try SM2PrivateKey(pem: Array(pem))
            } catch {
                printError("gateway send: --sm2-key: \(error)")
                return 2
            }
            key = nil
        } else if key == nil || key?.isEmpty == true {
            printError("gateway send: \(type.rawValue) needs a sign key: --sign-key, --sign-key-file or GATEWAY_SIGN_KEY")
            return 2
        }
        let msgID = o.msgID ?? Samples.newMsgID()
        let dateTime = o.dateTime ?? EVODateTime.format(epochSeconds: now, offsetMinutes: 480)
        let message = CanonicalMessage(method: "POST", target: url.target, dateTime: dateTime, msgID: msgID, body: body)
        let signature: String
        do {
            signature = try SignatureSigner.sign(message, type: type, key: key, sm2PrivateKey: sm2)
        } catch {
            printError("gateway send: signing failed: \(error)")
            return 2
        }
        var headers: [(String, String)] = [
            ("Content-Type", "application/json"), ("DateTime", dateTime), ("MsgID", msgID), ("SignType", type.rawValue),
            ("Authorization", signature),
        ]
        headers += o.headers
        if o.verbose {
            printError("> POST \(url)")
            for (n, v) in headers { printError("> \(n): \(n == "Authorization" ? String(v.prefix(8)) + "..." : v)") }
            printError("> (\(body.count) bytes)")
        }
        do {
            let r = try HTTPClient.send(url: url, headers: headers, body: body, timeoutMs: o.timeoutMs)
            printOut("HTTP \(r.status)")
            printOut(r.bodyText)
            return (200..<300).contains(r.status) ? 0 : 1
        } catch {
            printError("gateway send: \(error)")
            return 1
        }
    }
}
