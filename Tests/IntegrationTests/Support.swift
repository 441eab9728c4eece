import Foundation
import GatewayCore
import GatewayCrypto
import GatewaySignature
import GatewayHTTP
import GatewayTestKit
import Testing

let repoRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
let sm2PublicKeyPath = repoRoot.appendingPathComponent("Tests/GatewaySignatureTests/Fixtures/sm2-test.pub").path
let sm2PrivateKeyPath = repoRoot.appendingPathComponent("Tests/GatewaySignatureTests/Fixtures/sm2-test.key").path

/// The configuration most integration tests run with. `extraServer` lines go under `server:`.
func testConfig(extraServer: String = "", maxBodyBytes: Int = 4096) -> String {
    """
    server:
      listen: 127.0.0.1:0
      maxBodyBytes: \(maxBodyBytes)
      maxHeaderCount: 50
      maxRequestTargetBytes: 256
      workers: 2
    \(extraServer)
    admin:
      listen: 127.0.0.1:0
    spool:
      dir: @DIR@/spool
    sources:
      - name: evo
        path: /webhooks/evo
        signKey: test-sign-key
        signTypes: [SHA256, SHA512, HMAC-SHA256, HMAC-SHA512, SM2withSM3]
        sm2PublicKey: \(sm2PublicKeyPath)
      - name: strict
        path: /webhooks/strict
        signKey: strict-key
        signTypes: [HMAC-SHA256]
        maxSkewSeconds: 300
        ack: {status: 202, body: '{"ok":true}', contentType: application/json}
    log:
      level: debug
    """
}

/// A gateway on 127.0.0.1:0 with one source (`evo` at `/webhooks/evo`, key `test-sign-key`) and
/// its spool in the test directory. The other arguments are YAML lines, already indented, added
/// under `server:` (`server`), after it (`admin`), under the source (`source`), and at the end
/// (`rest`: routes, log...).
func oneSourceConfig(server: String = "", admin: String = "", source: String = "", rest: String = "") -> String {
    [
        "server:", "  listen: 127.0.0.1:0", server, admin, "spool:", "  dir: @DIR@/spool", "sources:", "  - name: evo",
        "    path: /webhooks/evo", "    signKey: test-sign-key", source, rest,
    ].filter { !$0.isEmpty }.joined(separator: "\n") + "\n"
}

/// Starts a gateway, runs `body`, always stops it.
func withGateway<R>(
    _ config: String = testConfig(), environment: [String: String] = [:], shellPrefix: String? = nil,
    _ body: (GatewayProcess) throws -> R
) throws -> R {
    let gw = try GatewayProcess(config: config, environment: environment, shellPrefix: shellPrefix)
    defer { gw.stop() }
    try gw.waitUntilListening()
    return try body(gw)
}

func jsonError(_ r: HTTPClientResponse) -> String? {
    guard let v = try? JSONParser.parse(r.body), case .string(let s)? = v["error"] else { return nil }
    return s
}

func nowDateTime(offsetSeconds: Int64 = 0) -> String {
    EVODateTime.format(epochSeconds: Int64(Date().timeIntervalSince1970) + offsetSeconds, offsetMinutes: 480)
}
