import Foundation
import GatewayConfig
import GatewayCore
import GatewayCrypto
import GatewayHTTP
import GatewaySignature

/// A configured source, ready to serve: verifier (with its SM2 key loaded), classifier limits
/// and the prepared acknowledgement.
/// A class, not a struct: the ingress takes the source of every request, and copying a struct
/// of a dozen references retained and released each of them (14 calls per request).
public final class CompiledSource: Sendable {
    public let name: String
    public let path: String
    public let verifier: SignatureVerifier
    public let classifier: Classifier
    public let ack: AckConfig
    /// The acknowledgement, built once (its arrays are shared by every answer).
    public let ackResponse: HTTPResponse
    public let dedupWindowSeconds: Int
    /// `rateLimit`: one bucket per source (a reload starts a fresh one).
    public let rateLimiter: TokenBucket?
    /// `allowFrom` (empty: every address).
    public let allowFrom: [CIDR]

    init(
        name: String, path: String, verifier: SignatureVerifier, classifier: Classifier, ack: AckConfig, ackResponse: HTTPResponse,
        dedupWindowSeconds: Int, rateLimiter: TokenBucket?, allowFrom: [CIDR]
    ) {
        self.name = name
        self.path = path
        self.verifier = verifier
        self.classifier = classifier
        self.ack = ack
        self.ackResponse = ackResponse
        self.dedupWindowSeconds = dedupWindowSeconds
        self.rateLimiter = rateLimiter
        self.allowFrom = allowFrom
    }

    /// Whether `host` (the peer's address as text) may call this source.
    public func allows(_ host: String) -> Bool {
        guard !allowFrom.isEmpty else { return true }
        guard let a = CIDR.parseAddress(host) else { return false }
        return allowFrom.contains { $0.contains(a) }
    }
}

/// Sources by request path. Immutable; a reload builds a new table and swaps it in whole.
public struct SourceTable: Sendable {
    public let sources: [CompiledSource]
    private let byPath: [String: Int]

    /// Builds the table, loading key files. Problems are reported like config errors.
    public init(config: GatewayConfig) throws(ConfigErrors) {
        var errors: [ConfigError] = []
        var compiled: [CompiledSource] = []
        for s in config.sources {
            var sm2: SM2PublicKey? = nil
            if let path = s.sm2PublicKey {
                let mark = s.sm2PublicKeyMark ?? s.mark
                if let pem = FileManager.default.contents(atPath: path) {
                    do {
                        sm2 = try SM2PublicKey(pem: Array(pem))
                    } catch {
                        errors.append(ConfigError(file: config.file, mark: mark, message: "source '\(s.name)': sm2PublicKey '\(path)': \(error)"))
                    }
                } else {
                    errors.append(ConfigError(file: config.file, mark: mark, message: "source '\(s.name)': cannot read sm2PublicKey '\(path)'"))
                }
            }
            var limits = Classifier.Limits()
            limits.maxMetadataLength = s.maxMetadataLength
            limits.json = JSONParser.Limits(maxDepth: config.server.maxJSONDepth, maxNumberLength: config.server.maxJSONNumberLength)
            compiled.append(
                CompiledSource(
                    name: s.name, path: s.path,
                    verifier: SignatureVerifier(
                        keys: s.signKeys.map(\.value), allowed: s.signTypes, sm2PublicKey: sm2, maxSkewSeconds: s.maxSkewSeconds),
                    classifier: Classifier(limits: limits), ack: s.ack,
                    ackResponse: HTTPResponse.text(s.ack.status, s.ack.body, contentType: s.ack.contentType).prepared(),
                    dedupWindowSeconds: s.dedupWindowSeconds,
                    rateLimiter: s.rateLimit.map { TokenBucket(perSecond: $0.perSecond, burst: $0.burst) }, allowFrom: s.allowFrom))
        }
        if !errors.isEmpty { throw ConfigErrors(errors) }
        sources = compiled
        byPath = Dictionary(compiled.enumerated().map { ($0.element.path, $0.offset) }, uniquingKeysWith: { a, _ in a })
    }

    /// The source at `path`. A few sources are compared in turn: a path as short as the usual
    /// ones is a small string, compared in two words, where the dictionary hashed it first
    /// (some 350 instructions per request). Many sources go through the dictionary.
    public func source(forPath path: Substring) -> CompiledSource? {
        let key = String(path)
        if sources.count <= Self.scannedSources {
            for s in sources where s.path == key { return s }
            return nil
        }
        return byPath[key].map { sources[$0] }
    }

    /// Up to this many sources, `source(forPath:)` compares paths in turn.
    static let scannedSources = 8
}
