import Foundation

/// Where formatted log lines go. Implementations must not block the caller for long: the event
/// loops log from their threads.
public protocol LogSink: Sendable {
    func write(_ line: [UInt8])
}

/// The logging front end: a value holding a sink, a minimum level, a format and fixed fields.
///
/// Every record passes through `Redactor` before it is formatted, so no call site can leak a
/// key, an `Authorization` value or a card number by mistake.
public struct Logger: Sendable {
    public var sink: any LogSink
    public var level: LogLevel
    public var format: LogFormat
    public var redactor: Redactor
    public var baseFields: [(String, LogValue)]

    public init(
        sink: any LogSink, level: LogLevel = .info, format: LogFormat = .json, redactor: Redactor = Redactor(),
        baseFields: [(String, LogValue)] = []
    ) {
        self.sink = sink
        self.level = level
        self.format = format
        self.redactor = redactor
        self.baseFields = baseFields
    }

    /// A logger that discards everything.
    public static let disabled = Logger(sink: NullLogSink(), level: .error)

    public func with(_ fields: [(String, LogValue)]) -> Logger {
        var copy = self
        copy.baseFields += fields
        return copy
    }

    @inline(__always)
    public func isEnabled(_ l: LogLevel) -> Bool { l >= level }

    public func log(_ l: LogLevel, _ message: @autoclosure () -> String, _ fields: @autoclosure () -> [(String, LogValue)] = []) {
        guard l >= level else { return }
        emit(l, message(), fields())
    }

    /// Lifecycle lines (listening, stopping, reloaded) are written whatever the level: operators
    /// and supervisors rely on them.
    public func lifecycle(_ message: String, _ fields: [(String, LogValue)] = []) {
        emit(.info, message, fields)
    }

    private func emit(_ l: LogLevel, _ message: String, _ fields: [(String, LogValue)]) {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        let now = Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec) / 1_000_000
        var record = LogRecord(epochMillis: now, level: l, message: message, fields: baseFields.isEmpty ? fields : baseFields + fields)
        redactor.redact(&record)
        sink.write(LogFormatter.format(record, as: format))
    }

    public func debug(_ m: @autoclosure () -> String, _ f: @autoclosure () -> [(String, LogValue)] = []) { log(.debug, m(), f()) }
    public func info(_ m: @autoclosure () -> String, _ f: @autoclosure () -> [(String, LogValue)] = []) { log(.info, m(), f()) }
    public func warning(_ m: @autoclosure () -> String, _ f: @autoclosure () -> [(String, LogValue)] = []) { log(.warning, m(), f()) }
    public func error(_ m: @autoclosure () -> String, _ f: @autoclosure () -> [(String, LogValue)] = []) { log(.error, m(), f()) }
}

public struct NullLogSink: LogSink {
    public init() {}
    public func write(_ line: [UInt8]) {}
}
