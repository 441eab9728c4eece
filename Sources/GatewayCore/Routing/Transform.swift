/// A per-route change to the event, applied in the order written under `transform:`.
public enum Transform: Sendable {
    /// Removes each path (missing paths are ignored).
    case remove([JSONPath])
    /// Replaces all but the last 4 characters of each string (or number) value with `*`.
    case mask([JSONPath])
    /// Sets each dotted path to a rendered template, creating missing objects on the way.
    case set([(path: JSONPath, value: Template)])
    /// Moves each value from one path to another.
    case rename([(from: JSONPath, to: JSONPath)])
    /// Keeps only these top-level keys.
    case keep([String])
}

/// A string with `{{path}}` placeholders, rendered from an event. A missing path renders empty.
public struct Template: Sendable, Equatable {
    public enum Part: Sendable, Equatable {
        case literal(String)
        case path(JSONPath)
    }

    public let parts: [Part]
    public let source: String

    /// Parses `text`; throws a message for an unterminated `{{` or an invalid path.
    public init(_ text: String) throws(TemplateError) {
        var parts: [Part] = []
        var rest = Substring(text)
        while let open = rest.firstRange(of: "{{") {
            if open.lowerBound > rest.startIndex { parts.append(.literal(String(rest[..<open.lowerBound]))) }
            guard let close = rest[open.upperBound...].firstRange(of: "}}") else {
                throw TemplateError(message: "unterminated '{{' in template")
            }
            let inner = rest[open.upperBound..<close.lowerBound].trimmingCharacters(in: " ")
            guard let path = JSONPath(String(inner)) else {
                throw TemplateError(message: "'{{\(inner)}}' is not a valid path")
            }
            parts.append(.path(path))
            rest = rest[close.upperBound...]
        }
        if !rest.isEmpty { parts.append(.literal(String(rest))) }
        self.parts = parts
        self.source = text
    }

    /// The path when the template is exactly one placeholder: a `set` then copies the value as
    /// it is (any JSON type) instead of rendering text.
    public var onlyPath: JSONPath? {
        if parts.count == 1, case .path(let p) = parts[0] { return p }
        return nil
    }

    /// True when the template is only literal text.
    public var isLiteral: Bool { !parts.contains { if case .path = $0 { true } else { false } } }
}

public struct TemplateError: Error, Sendable {
    public var message: String
}

extension Substring {
    func trimmingCharacters(in set: Character) -> Substring {
        var s = self
        while s.first == set { s = s.dropFirst() }
        while s.last == set { s = s.dropLast() }
        return s
    }
}

/// How a route retries: exponential backoff from `initialDelayMs` doubling up to `maxDelayMs`,
/// with jitter, for at most `maxAttempts` attempts in all (then the delivery is a dead letter).
public struct RetryPolicy: Sendable, Equatable {
    public var maxAttempts: Int
    public var initialDelayMs: Int
    public var maxDelayMs: Int

    public init(maxAttempts: Int = 5, initialDelayMs: Int = 200, maxDelayMs: Int = 30_000) {
        self.maxAttempts = maxAttempts
        self.initialDelayMs = initialDelayMs
        self.maxDelayMs = maxDelayMs
    }
}

extension RetryPolicy {
    /// The delay before the next attempt after attempt `attempt` (1-based) failed: exponential
    /// from `initialDelayMs`, capped at `maxDelayMs`, with "equal jitter" (half fixed, half random)
    /// so a burst of failures does not retry in lockstep.
    ///
    /// - Parameter random: a value in 0..<1 (injected so tests are deterministic).
    public func delayMs(afterAttempt attempt: Int, random: Double) -> Int {
        let exponent = min(max(attempt - 1, 0), 30)
        let base = min(maxDelayMs, initialDelayMs.multipliedReportingOverflow(by: 1 << exponent).overflow ? maxDelayMs : initialDelayMs << exponent)
        let half = base / 2
        return half + Int(Double(base - half) * min(max(random, 0), 0.999_999))
    }
}
