/// A field value in a structured log line.
public enum LogValue: Sendable, Equatable, ExpressibleByStringLiteral, ExpressibleByIntegerLiteral,
    ExpressibleByBooleanLiteral, CustomStringConvertible
{
    case string(String)
    case int(Int)
    case bool(Bool)
    case double(Double)

    public init(stringLiteral value: String) { self = .string(value) }
    public init(integerLiteral value: Int) { self = .int(value) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }

    public var description: String {
        switch self {
        case .string(let s): s
        case .int(let i): String(i)
        case .bool(let b): b ? "true" : "false"
        case .double(let d): String(d)
        }
    }
}

/// One log line before formatting.
public struct LogRecord: Sendable {
    public var epochMillis: Int64
    public var level: LogLevel
    public var message: String
    public var fields: [(String, LogValue)]

    public init(epochMillis: Int64, level: LogLevel, message: String, fields: [(String, LogValue)]) {
        self.epochMillis = epochMillis
        self.level = level
        self.message = message
        self.fields = fields
    }
}
