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
            return !(Self.onBytes(value, operand, ByteSearch.equal) ?? (value.scalarText == operand))
        case .equals(let operand):
            guard let value else { return false }
            return Self.onBytes(value, operand, ByteSearch.equal) ?? (value.scalarText == operand)
        case .oneOf(let operands):
            guard let value else { return false }
            var decided = true
            for operand in operands {
                guard let equal = Self.onBytes(value, operand, ByteSearch.equal) else {
                    decided = false
                    break
                }
                if equal { return true }
            }
            if decided { return false }
            guard let text = value.scalarText else { return false }
            return operands.contains(text)
        case .prefix(let operand):
            guard let value else { return false }
            return Self.onBytes(value, operand) { text, op in ByteSearch.hasPrefix(text, op) }
                ?? (value.scalarText?.hasPrefix(operand) ?? false)
        case .matches(let pattern):
            guard let text = value?.scalarText else { return false }
            return pattern.matches(text)
        }
    }

    /// `test(value's text, operand)` on their bytes, where that answers as comparing Strings
    /// does: a plain ASCII value (`JSONRef.withPlainASCIIText`) and an ASCII operand. Nil where
    /// it may not (the caller compares Strings). Routes test conditions on every event: a
    /// String of each value, then a Unicode-aware comparison, was most of a condition's cost.
    private static func onBytes(
        _ value: JSONRef, _ operand: String, _ test: (UnsafeBufferPointer<UInt8>, UnsafeBufferPointer<UInt8>) -> Bool
    ) -> Bool? {
        value.withPlainASCIIText { text in
            operand.utf8.withContiguousStorageIfAvailable { op in ASCII.isASCII(op) ? test(text, op) : nil } ?? nil
        } ?? nil
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
