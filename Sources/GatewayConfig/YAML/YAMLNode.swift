/// A YAML document as a plain tree, with each node's source position.
///
/// libyaml gives events and no types: every scalar is text, and typing (`8080` as a number,
/// `"8080"` as text) is decided by the decoder that knows what a key expects. Aliases are
/// resolved into the tree by the parser (within a budget, so "billion laughs" documents fail).
public indirect enum YAMLNode: Sendable {
    case scalar(YAMLScalar)
    case sequence([YAMLNode], Mark)
    case mapping([YAMLPair], Mark)

    public var mark: Mark {
        switch self {
        case .scalar(let s): s.mark
        case .sequence(_, let m), .mapping(_, let m): m
        }
    }

    /// Short name of the node's kind for error messages.
    public var kindName: String {
        switch self {
        case .scalar(let s): s.isNull ? "null" : "a scalar"
        case .sequence: "a list"
        case .mapping: "a mapping"
        }
    }
}

public struct YAMLPair: Sendable {
    public var key: YAMLScalar
    public var value: YAMLNode
}

public struct YAMLScalar: Sendable {
    public enum Style: Sendable {
        case plain, singleQuoted, doubleQuoted, literal, folded
    }

    public var value: String
    public var style: Style
    public var tag: String?
    public var mark: Mark

    /// A plain `~`, `null`, `Null`, `NULL` or empty scalar: YAML's null.
    public var isNull: Bool {
        guard style == .plain, tag == nil else { return false }
        switch value {
        case "", "~", "null", "Null", "NULL": return true
        default: return false
        }
    }
}
