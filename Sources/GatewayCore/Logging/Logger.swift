import Foundation
import Synchronization

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
    public var format: LogFormat
    public var baseFields: [(String, LogValue)]
    /// Level and redactor, shared by every copy of this logger: a reload changes them for all.
    public let control: LogControl

    public var level: LogLevel { control.level }
    public var redactor: Redactor { control.redactor }

    public init(
        sink: any LogSink, level: LogLevel = .info, format: LogFormat = .json, redactor: Redactor = Redactor(),
        baseFields: [(String, LogValue)] = []
    ) {
        self.sink = sink
        self.format = format
        self.baseFields = baseFields
        self.control = LogControl(level: level, redactor: redactor)
    }

    /// A logger that discards everything.
    public static let disabled = Logger(sink: NullLogSink(), level: .error)

    public func with(_ fields: [(String, LogValue)]) -> Logger {
        var copy = self
        copy.baseFields += fields
        return copy
    }

    @inline(__always)
    public func isEnabled(_ l: LogLevel) -> Bool { l >= control.level }

    public func log(_ l: LogLevel, _ message: @autoclosure () -> String, _ fields: @autoclosure () -> [(String, LogValue)] = []) {
        guard l >= control.level else { return }
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
        if format == .json, let line = control.cleanLine(record) {
            sink.write(line)
            return
        }
        control.redact(&record)
        sink.write(LogFormatter.format(record, as: format))
    }

    public func debug(_ m: @autoclosure () -> String, _ f: @autoclosure () -> [(String, LogValue)] = []) { log(.debug, m(), f()) }
    public func info(_ m: @autoclosure () -> String, _ f: @autoclosure () -> [(String, LogValue)] = []) { log(.info, m(), f()) }
    public func warning(_ m: @autoclosure () -> String, _ f: @autoclosure () -> [(String, LogValue)] = []) { log(.warning, m(), f()) }
    public func error(_ m: @autoclosure () -> String, _ f: @autoclosure () -> [(String, LogValue)] = []) { log(.error, m(), f()) }
}

/// The parts of a logger a configuration reload changes: the level and the redactor (new secret
/// values and `redact:` names). One per process, shared by every copy of the `Logger`.
public final class LogControl: Sendable {
    /// Boxed, so that taking the current redactor for a line is one retain, not a copy of the
    /// struct (its sets and arrays retained and released one by one).
    private final class Box: Sendable {
        let redactor: Redactor
        init(_ r: Redactor) { redactor = r }
    }

    private let levelRaw: Atomic<Int>
    /// Read for every log line by every thread: no lock on the read path (see `ReadMostly`).
    private let current: ReadMostly<Box>

    public init(level: LogLevel, redactor: Redactor) {
        levelRaw = Atomic(level.rawValue)
        current = ReadMostly(Box(redactor))
    }

    public var level: LogLevel { LogLevel(rawValue: levelRaw.load(ordering: .relaxed)) ?? .info }
    public var redactor: Redactor { current.value.redactor }

    /// Redacts with the redactor in force.
    public func redact(_ record: inout LogRecord) {
        current.value.redactor.redact(&record)
    }

    /// The JSON line of a record the redactor in force would not change, or nil (see
    /// `LogFormatter.jsonIfClean`).
    func cleanLine(_ record: LogRecord) -> [UInt8]? {
        LogFormatter.jsonIfClean(record, redactor: current.value.redactor)
    }

    public func update(level: LogLevel, redactor: Redactor) {
        levelRaw.store(level.rawValue, ordering: .relaxed)
        current.update { $0 = Box(redactor) }
    }
}

public struct NullLogSink: LogSink {
    public init() {}
    public func write(_ line: [UInt8]) {}
}
