/// A test on an event, as written under a route's `when:` (data, not code).
///
/// `when:` is a list whose items must all hold; an item `{any: [...]}` holds when one of its
/// conditions does. A leaf names a dotted path and exactly one operator.
public indirect enum Condition: Sendable {
    case all([Condition])
    case any([Condition])
    case match(path: JSONPath, op: ConditionOperator)
}

public enum ConditionOperator: Sendable {
    /// The value's scalar text equals the operand (numbers compare by their source text).
    case equals(String)
    /// True also when the path is missing.
    case notEquals(String)
    case oneOf([String])
    case prefix(String)
    case matches(Pattern)
    /// `exists: true` holds when the path is present (even when null); `false` when absent.
    case exists(Bool)
}

/// A compiled regular expression with its source text. Compiled once, when the configuration
/// is loaded, never per event.
///
/// A class, not a struct: `Regex` comes from a resilient module, so a struct holding one has a
/// layout known only at run time, and so did `ConditionOperator` and `Condition` around it.
/// Every copy of an operator (one per condition and event) then went through run-time value
/// witnesses (`swift_getEnumCaseMultiPayload` and friends): some 2,000 instructions of a
/// two-condition route's 3,500. A reference is one pointer.
public final class Pattern: @unchecked Sendable {
    // Regex values are immutable after construction; the unchecked conformance only covers the
    // stdlib type not being annotated on every platform.
    public let source: String
    public let regex: Regex<AnyRegexOutput>

    public init(_ source: String) throws {
        self.source = source
        self.regex = try Regex(source)
    }

    /// True when the pattern matches anywhere in `text` (anchor with `^...$` for a full match).
    public func matches(_ text: String) -> Bool {
        (try? regex.firstMatch(in: text)) != nil
    }
}
