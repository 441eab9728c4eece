/// Why a plugin could not be loaded or configured. The message is shown as a configuration
/// error, prefixed with the handler's position in the file.
public struct PluginError: Error, Sendable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
