import Foundation
import GatewayCore
import Testing

@testable import GatewayConfig

func decode(_ text: String, env: [String: String] = [:]) throws(ConfigErrors) -> GatewayConfig {
    try GatewayConfig.decode(Array(text.utf8), file: "test.yaml", environment: env)
}

/// The errors for `text`, as printed.
func errors(_ text: String, env: [String: String] = [:]) -> [String] {
    do {
        _ = try decode(text, env: env)
        return []
    } catch {
        return error.errors.map(\.description)
    }
}

let minimal = """
    server:
      listen: 127.0.0.1:8080
    sources:
      - name: evo
        path: /webhooks/evo
        signKey: k3y
    """

@Suite("Configuration")
struct ConfigTests {
    static var fixtures: URL {
        Bundle.module.url(forResource: "Fixtures", withExtension: nil)
            ?? URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")
    }

    @Test func minimalConfigGetsDefaults() throws {
        let c = try decode(minimal)
        #expect(c.server.listen == ListenAddress(host: "127.0.0.1", port: 8080))
        #expect(c.server.maxBodyBytes == 1 << 20)
        #expect(c.admin == nil)
        #expect(c.spool.dir == "./var/spool")
        #expect(c.unmatched == .drop)
        #expect(c.log.output == .stdout)
        let s = try #require(c.sources.first)
        #expect(s.signKeys.map(\.value) == ["k3y"])
        #expect(s.signTypes == SignType.symmetric)
        #expect(s.maxSkewSeconds == 0)
        #expect(s.ack == AckConfig())
        #expect(s.ack.body == "SUCCESS" && s.ack.status == 200)
        #expect(s.dedupWindowSeconds == 86_400)
    }

    @Test func fullConfigDecodes() throws {
        let url = Self.fixtures.appendingPathComponent("full.yaml")
        let c = try GatewayConfig.load(
            path: url.path, environment: ["ADMIN_TOKEN": "t0k3n-value", "EVO_SIGN_KEY": "current-key", "EVO_CN_KEY": "cn-key"])
        #expect(c.server.listen.port == 8443)
        #expect(c.server.maxBodyBytes == 512 << 10)
        #expect(c.server.maxHeaderBytes == 8 << 10)
        #expect(c.server.shutdownGraceMs == 15_000)
        #expect(c.admin?.token?.value == "t0k3n-value")
        #expect(c.spool.maxBytes == 10 << 30)
        #expect(c.plugins.path == ["/opt/gateway/plugins", Self.fixtures.path + "/plugins"])
        #expect(c.sources.map(\.name) == ["evo", "evo-cn"])
        #expect(c.sources[0].signKeys.map(\.value) == ["current-key", "previous-key"])
        #expect(c.sources[0].signTypes == [.sha256, .hmacSHA512])
        #expect(c.sources[1].signKeys.map(\.value) == ["cn-key"])
        let r = c.routes[0]
        #expect(r.name == "ledger" && r.source == "evo" && r.events == ["Payment", "Capture", "Refund"])
        #expect(r.when.count == 3)
        #expect(r.transform.count == 5)
        #expect(r.handlers.map(\.plugin) == ["metadata-filter", "forward-http"])
        #expect(r.retry == RetryPolicy(maxAttempts: 5, initialDelayMs: 200, maxDelayMs: 30000))
        #expect(
            r.handlers[1].with.jsonText
                == #"{"url":"http://127.0.0.1:9000/ledger","timeoutMs":2000,"headers":{"X-Team":"pay"},"retry":true,"ratio":0.5,"none":null}"#)
        #expect(c.routes[1].matchesAllEvents)
        #expect(c.unmatched == .deadletter)
        #expect(c.log.level == .debug && c.log.format == .logfmt)
        #expect(c.log.output == .file(Self.fixtures.path + "/logs/gateway.log"))
        #expect(c.redact == ["customerEmail"])
        #expect(Set(c.secrets) == ["current-key", "previous-key", "cn-key", "t0k3n-value"])
    }

    @Test func secretsNeverPrint() throws {
        let c = try decode(minimal)
        #expect(!"\(c.sources[0])".contains("k3y"))
        #expect(!String(reflecting: c.sources[0].signKeys).contains("k3y"))
    }

    @Test func shippedSampleConfigIsValid() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let c = try GatewayConfig.load(path: root.appendingPathComponent("gateway.yaml").path, environment: [:])
        #expect(!c.sources.isEmpty)
        #expect(c.admin != nil)
    }

    @Test func environmentExpansion() throws {
        let text = minimal.replacing("signKey: k3y", with: "signKey: pre-${KEY}-post$${LITERAL}")
        #expect(try decode(text, env: ["KEY": "abc"]).sources[0].signKeys[0].value == "pre-abc-post${LITERAL}")
        #expect(errors(text) == ["test.yaml:6:14: source 'evo': signKey: environment variable KEY is not set"])
    }

    @Test func secretFilesMustBePrivate() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("gw-cfg-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let keyFile = dir.appendingPathComponent("key")
        try Data("file-key\n".utf8).write(to: keyFile)
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: keyFile.path)
        let text = minimal.replacing("signKey: k3y", with: "signKey: {file: \(keyFile.path)}")
        #expect(try decode(text).sources[0].signKeys[0].value == "file-key")
        try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: keyFile.path)
        #expect(errors(text).first?.contains("accessible by other users") == true)
    }

    @Test(arguments: [
        // (config text, expected error)
        ("", "test.yaml:1:1: empty configuration: 'server.listen' and at least one entry under 'sources' are required"),
        ("# only a comment\n", "test.yaml:1:1: empty configuration: 'server.listen' and at least one entry under 'sources' are required"),
        ("server:\n  listen: 127.0.0.1:8080\n", "test.yaml:1:1: the configuration: missing required key 'sources'"),
        ("server:\n  listen: 127.0.0.1:8080\nsources: []\n", "test.yaml:3:10: sources: at least one source is required"),
        ("server:\n  listn: 127.0.0.1:8080\n", "test.yaml:2:3: unknown key 'listn' in server (did you mean 'listen'?)"),
        ("sever:\n  listen: :80\n", "test.yaml:1:1: unknown key 'sever' in the configuration (did you mean 'server'?)"),
        ("server:\n  listen: 8080\n", "test.yaml:2:11: server.listen must be HOST:PORT (e.g. 127.0.0.1:8080, :8080, [::1]:8080), found '8080'"),
        ("server:\n  listen: 1.2.3.4:99999\n", "test.yaml:2:11: server.listen must be HOST:PORT (e.g. 127.0.0.1:8080, :8080, [::1]:8080), found '1.2.3.4:99999'"),
        ("server:\n  listen: :80\n  maxBodyBytes: lots\n", "test.yaml:3:17: server.maxBodyBytes must be a size such as 1048576 or 1MiB, found 'lots'"),
        ("server:\n  listen: :80\n  workers: [1]\n", "test.yaml:3:12: server.workers must be an integer, found a list"),
        ("server: [1]\n", "test.yaml:1:9: server must be a mapping, found a list"),
        ("server:\n  listen: :80\n  listen: :81\n", "test.yaml:3:3: duplicate key 'listen'"),
        ("server:\n  listen: :80\n\tbad\n", "test.yaml:3:1: YAML: found a tab character that violates indentation while scanning a plain scalar"),
        ("a: &x [1]\nb: *y\n", "test.yaml:2:4: unknown alias"),
        ("---\na: 1\n---\nb: 2\n", "test.yaml:3:1: more than one YAML document in the file; keep one configuration per file"),
        ("unmatched: keep\n", "test.yaml:1:12: unmatched must be one of 'drop', 'deadletter', found 'keep'"),
    ])
    func reportedWithPosition(_ text: String, _ expected: String) {
        #expect(errors(text).contains(expected), "got \(errors(text))")
    }

    @Test(arguments: [
        ("signTypes: [SHA256, MD5]", "test.yaml:7:16: source 'evo': unknown sign type 'MD5'; use SHA256, SHA512, HMAC-SHA256, HMAC-SHA512, SM2withSM3"),
        ("signTypes: [SM2withSM3]", "test.yaml:4:5: source 'evo': 'sm2PublicKey' is required when SM2withSM3 is allowed"),
        ("maxSkewSeconds: -1", "test.yaml:7:21: source 'evo': maxSkewSeconds must be between 0 and 604800, found -1"),
        ("ack: {status: 500}", "test.yaml:7:19: source 'evo': ack.status must be between 200 and 299, found 500"),
        ("sm2PublicKey: /nonexistent.pem", "test.yaml:7:19: source 'evo': sm2PublicKey: no such file '/nonexistent.pem'"),
        ("signKeyy: x", "test.yaml:7:5: unknown key 'signKeyy' in source 'evo' (did you mean 'signKey'?)"),
    ])
    func sourceErrors(_ extra: String, _ expected: String) {
        let text = minimal + "\n    " + extra + "\n"
        #expect(errors(text).contains(expected), "got \(errors(text))")
    }

    @Test func sourceStructureErrors() {
        let noKey = "server:\n  listen: :80\nsources:\n  - name: evo\n    path: /w\n"
        #expect(errors(noKey).contains("test.yaml:4:5: source 'evo': needs 'signKey' (for SHA256/SHA512/HMAC) or 'sm2PublicKey' (for SM2withSM3)"))
        let dup = minimal + "\n  - name: evo\n    path: /webhooks/evo\n    signKey: b\n"
        let e = errors(dup)
        #expect(e.contains("test.yaml:7:5: sources[1]: duplicate source name 'evo' (first at line 4)"))
        #expect(e.contains("test.yaml:7:5: sources[1]: path '/webhooks/evo' is already used by another source (line 4)"))
        let badPath = minimal.replacing("path: /webhooks/evo", with: "path: webhooks?x=1")
        #expect(errors(badPath).contains("test.yaml:5:11: source 'evo': path must start with '/', found 'webhooks?x=1'"))
    }

    @Test(arguments: [
        ("  - name: r\n    events: [Payment]\n", "test.yaml:8:5: route 'r': missing required key 'handlers'"),
        ("  - name: r\n    events: []\n    handlers: [{plugin: file}]\n", "test.yaml:9:13: route 'r': events must list at least one event code, or \"*\""),
        ("  - name: r\n    source: evoo\n    events: ['*']\n    handlers: [{plugin: file}]\n", "test.yaml:9:13: route 'r': unknown source 'evoo' (did you mean 'evo'?)"),
        ("  - name: r\n    events: ['*']\n    handlers: [{plugin: File}]\n", "test.yaml:10:25: route 'r': handlers[0].plugin must be a plugin name of lower-case letters, digits and '-', found 'File'"),
        ("  - name: r\n    events: ['*']\n    when: [{path: a.b, equals: x, prefix: y}]\n    handlers: [{plugin: file}]\n", "test.yaml:10:12: route 'r': when[0]: has 2 operators (equals, prefix); use one per condition"),
        ("  - name: r\n    events: ['*']\n    when: [{path: a.b}]\n    handlers: [{plugin: file}]\n", "test.yaml:10:12: route 'r': when[0]: needs one operator: equals, notEquals, in, prefix, matches, exists"),
        ("  - name: r\n    events: ['*']\n    when: [{path: a.b, matches: '('}]\n    handlers: [{plugin: file}]\n", "test.yaml:10:33: route 'r': when[0].matches: invalid regular expression '('"),
        ("  - name: r\n    events: ['*']\n    when: [{path: a.b, exists: maybe}]\n    handlers: [{plugin: file}]\n", "test.yaml:10:32: route 'r': when[0].exists must be true or false, found 'maybe'"),
        ("  - name: r\n    events: ['*']\n    transform: [{squash: [a]}]\n    handlers: [{plugin: file}]\n", "test.yaml:10:18: route 'r': transform[0]: unknown transform 'squash'; use one of remove, mask, set, rename, keep"),
        ("  - name: r\n    events: ['*']\n    transform: [{set: {a: '{{b'}}]\n    handlers: [{plugin: file}]\n", "test.yaml:10:27: route 'r': transform[0].set.a: unterminated '{{' in template"),
        ("  - name: r\n    events: ['*']\n    handlers: [{plugin: file}]\n    retry: {maxAttempts: 0}\n", "test.yaml:11:26: route 'r': retry.maxAttempts must be between 1 and 1000, found 0"),
        ("  - name: r\n    events: ['*']\n    handlers: [{plugin: file}]\n    retry: {initialDelayMs: 500, maxDelayMs: 100}\n", "test.yaml:11:12: route 'r': retry.maxDelayMs must not be smaller than retry.initialDelayMs"),
        ("  - name: r\n    events: ['*']\n    handlers: [{plugin: file}]\n  - name: r\n    events: ['*']\n    handlers: [{plugin: file}]\n", "test.yaml:11:5: routes[1]: duplicate route name 'r' (first at line 8)"),
    ])
    func routeErrors(_ routes: String, _ expected: String) {
        let text = minimal + "\nroutes:\n" + routes
        #expect(errors(text).contains(expected), "got \(errors(text))")
    }

    @Test func rateLimitAndAllowFrom() throws {
        let c = try decode(minimal + "\n    rateLimit: {perSecond: 50, burst: 200}\n    allowFrom: [203.0.113.0/24, '2001:db8::/32', 10.1.2.3]\n")
        let s = try #require(c.sources.first)
        #expect(s.rateLimit == RateLimitConfig(perSecond: 50, burst: 200))
        #expect(s.allowFrom.map(\.description) == ["203.0.113.0/24", "2001:db8::/32", "10.1.2.3/32"])
        #expect(try decode(minimal + "\n    rateLimit: {perSecond: 5}\n").sources[0].rateLimit?.burst == 5)
        #expect(errors(minimal + "\n    rateLimit: {perSecond: 0}\n").contains { $0.contains("rateLimit.perSecond must be between 1") })
        #expect(errors(minimal + "\n    rateLimit: {burst: 3}\n").contains { $0.contains("missing required key 'perSecond'") })
        #expect(errors(minimal + "\n    allowFrom: [10.0.0.0/33]\n").contains { $0.contains("'10.0.0.0/33' is not an address or CIDR block") })
        #expect(errors(minimal + "\n    allowFrom: []\n").contains { $0.contains("allowFrom is empty") })
    }

    @Test func severalErrorsAreReportedAtOnce() {
        let text = "server:\n  listen: nowhere\n  maxBodyBytes: -5\nsources:\n  - name: a\n    path: x\n    signKey: k\n"
        #expect(errors(text).count == 3)
    }

    @Test func spoolSegmentsFitUnderTheLimit() throws {
        #expect(try decode(minimal).spool.segmentSize == 64 << 20)
        let limited = try decode(minimal + "\nspool:\n  maxBytes: 8MiB\n").spool
        #expect(limited.segmentSize == 1 << 20)
        #expect(try decode(minimal + "\nspool:\n  maxBytes: 256KiB\n").spool.segmentSize == 64 << 10)
        #expect(try decode(minimal + "\nspool:\n  segmentBytes: 4MiB\n").spool.segmentSize == 4 << 20)
        #expect(errors(minimal + "\nspool:\n  maxBytes: 100KiB\n") == ["test.yaml:8:13: spool.maxBytes (102400) must be at least 4 x spool.segmentBytes (65536)"])
        #expect(errors(minimal + "\nspool:\n  maxBytes: 16MiB\n  segmentBytes: 8MiB\n").first?.contains("at least 4 x spool.segmentBytes") == true)
        #expect(errors(minimal + "\nspool:\n  segmentBytes: 1KiB\n").first?.contains("spool.segmentBytes must be") == true)
    }

    @Test func adminOffLoopbackNeedsAToken() {
        let text = minimal + "\nadmin:\n  listen: 0.0.0.0:9090\n"
        #expect(errors(text) == ["test.yaml:8:3: admin: 'token' is required when admin.listen is not a loopback address"])
    }

    @Test func aliasBombsAreRefused() {
        var text = "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
        var prev = "a"
        for i in 0..<8 {
            let name = "l\(i)"
            text += "\(name): &\(name) [*\(prev), *\(prev), *\(prev), *\(prev), *\(prev), *\(prev), *\(prev), *\(prev), *\(prev), *\(prev)]\n"
            prev = name
        }
        #expect(errors(text).first?.contains("alias bomb") == true, "got \(errors(text))")
    }

    @Test func longListsDecodeInLinearTime() throws {
        // 50,000 entries: building the tree by copying lists on every append would take minutes.
        let text = minimal + "\nredact:\n" + (0..<50_000).map { "  - field\($0)\n" }.joined()
        let c = try decode(text)
        #expect(c.redact.count == 50_000)
        #expect(c.redact.last == "field49999")
    }

    @Test func deepNestingIsRefused() {
        let text = String(repeating: "[", count: 200) + String(repeating: "]", count: 200)
        #expect(errors(text).first?.contains("nesting deeper than") == true)
    }

    @Test(arguments: [
        ("127.0.0.1:8080", "127.0.0.1", 8080, false),
        (":8080", "0.0.0.0", 8080, false),
        ("localhost:1", "127.0.0.1", 1, false),
        ("[::1]:9090", "::1", 9090, true),
        ("[::]:0", "::", 0, true),
    ])
    func listenAddresses(_ text: String, _ host: String, _ port: Int, _ v6: Bool) {
        #expect(ListenAddress(text) == ListenAddress(host: host, port: port, isIPv6: v6))
    }

    @Test func badListenAddresses() {
        for t in ["", "8080", "host:80", "1.2.3:80", "1.2.3.4:", "[::1:80", "1.2.3.4:-1", "256.1.1.1:80"] {
            #expect(ListenAddress(t) == nil, "\(t)")
        }
    }
}
