/// Evaluating conditions against an event (the original notification, before transforms).
extension Condition {
    /// True when the condition holds for `event`.
    public func holds(for event: JSONRef) -> Bool {
        switch self {
        case .all(let list): return list.allSatisfy { $0.holds(for: event) }
        case .any(let list): return list.contains { $0.holds(for: event) }
        case .match(let path, let op): return op.holds(for: event[path: path])
        }
    }

    /// Why the condition does not hold (nil when it holds), for `gateway route` and debug logs.
    /// Never includes the event's values: only paths and operators.
    public func failure(for event: JSONRef) -> String? {
        switch self {
        case .all(let list):
            for c in list { if let f = c.failure(for: event) { return f } }
            return nil
        case .any(let list):
            if list.contains(where: { $0.holds(for: event) }) { return nil }
            return "none of the 'any' conditions holds (\(list.compactMap { $0.failure(for: event) }.joined(separator: "; ")))"
        case .match(let path, let op):
            let value = event[path: path]
            if op.holds(for: value) { return nil }
            return "\(path) \(op.summary)\(value == nil && !op.isExistence ? " (missing)" : "")"
        }
    }
}

extension ConditionOperator {
    func holds(for value: JSONRef?) -> Bool {
        switch self {
        case .exists(let expected): return (value != nil) == expected
        case .notEquals(let operand):
            guard let value else { return true }
            return !(Self.equalsAsBytes(value, operand) ?? (value.scalarText == operand))
        case .equals(let operand):
            guard let value else { return false }
            return Self.equalsAsBytes(value, operand) ?? (value.scalarText == operand)
        case .oneOf(let operands):
            guard let value else { return false }
            let asBytes = value.withPlainASCIIText { text -> Bool? in
                for operand in operands {
                    guard let equal = Self.compare(operand, text, Self.sameBytes) else { return nil }
                    if equal { return true }
                }
                return false
            }
            if let asBytes = asBytes ?? nil { return asBytes }
            guard let text = value.scalarText else { return false }
            return operands.contains(text)
        case .prefix(let operand):
            guard let value else { return false }
            let asBytes = value.withPlainASCIIText { text in
                Self.compare(operand, text) { op, t in ByteSearch.hasPrefix(t, op) }
            }
            if let asBytes = asBytes ?? nil { return asBytes }
            return value.scalarText?.hasPrefix(operand) ?? false
        case .matches(let pattern):
            guard let text = value?.scalarText else { return false }
            return pattern.matches(text)
        }
    }

    /// Whether `value`'s text equals `operand`, compared as bytes where that answers as
    /// Strings do (`JSONRef.withPlainASCIIText`, an ASCII operand); nil where it may not.
    /// Routes test conditions on every event: a String of each value, then a Unicode-aware
    /// comparison, was most of a condition's cost.
    static func equalsAsBytes(_ value: JSONRef, _ operand: String) -> Bool? {
        value.withPlainASCIIText { text in compare(operand, text, sameBytes) } ?? nil
    }

    /// `test(operand's UTF-8, text)` when the operand is ASCII; nil otherwise (or when its
    /// bytes are not contiguous, a bridged String).
    private static func compare(
        _ operand: String, _ text: UnsafeBufferPointer<UInt8>, _ test: (UnsafeBufferPointer<UInt8>, UnsafeBufferPointer<UInt8>) -> Bool
    ) -> Bool? {
        operand.utf8.withContiguousStorageIfAvailable { op in ASCII.isASCII(op) ? test(op, text) : nil } ?? nil
    }

    private static func sameBytes(_ a: UnsafeBufferPointer<UInt8>, _ b: UnsafeBufferPointer<UInt8>) -> Bool {
        a.count == b.count && ByteSearch.hasPrefix(a, b)
    }

    var isExistence: Bool {
        if case .exists = self { return true }
        return false
    }

    /// What the operator required, as the config wrote it.
    var summary: String {
        switch self {
        case .equals(let v): "does not equal \(JSONValue.quoted(v))"
        case .notEquals(let v): "equals \(JSONValue.quoted(v))"
        case .oneOf(let vs): "is not in [\(vs.map(JSONValue.quoted).joined(separator: ", "))]"
        case .prefix(let v): "does not start with \(JSONValue.quoted(v))"
        case .matches(let p): "does not match /\(p.source)/"
        case .exists(let e): e ? "does not exist" : "exists"
        }
    }
}
