import Foundation
import GatewayCore
import GatewayCrypto
import GatewayHTTP
import Synchronization

/// A loopback HTTP receiver for delivery tests: records every request and answers from a script
/// (a list of answers used in order, then the default), optionally after a delay.
public final class RecordingHTTPServer: Sendable {
    public struct Received: Sendable {
        public var method: String
        public var target: String
        public var headers: HTTPHeaders
        public var body: [UInt8]
        public var at: Date
        public var bodyText: String { String(decoding: body, as: UTF8.self) }
    }

    public struct Answer: Sendable {
        public var status: Int
        public var headers: [(String, String)]
        public var delayMs: Int
        public init(status: Int, headers: [(String, String)] = [], delayMs: Int = 0) {
            self.status = status
            self.headers = headers
            self.delayMs = delayMs
        }
    }

    final class Responder: HTTPResponder {
        // `Locked` (a pthread mutex), not `Mutex`: ThreadSanitizer sees its ordering (it cannot see
        // the futex under `Synchronization.Mutex` and reported a race between this server's loop
        // and the test reading `received`).
        let state = Locked<(received: [Received], script: [Answer])>(([], []))
        let fallback: Answer
        let arrived = DispatchSemaphore(value: 0)

        init(fallback: Answer) { self.fallback = fallback }

        func respond(to request: HTTPRequest, context: RequestContext, completion: ResponseCompletion) {
            let answer = state.withLock { s -> Answer in
                s.received.append(Received(method: request.head.method, target: request.head.target, headers: request.head.headers, body: request.body, at: Date()))
                return s.script.isEmpty ? fallback : s.script.removeFirst()
            }
            arrived.signal()
            let response = HTTPResponse(status: answer.status, headers: answer.headers + [("Content-Type", "text/plain")], body: Array("ok".utf8))
            if answer.delayMs > 0 {
                DispatchQueue.global().asyncAfter(deadline: .now() + .milliseconds(answer.delayMs)) { completion(response) }
            } else {
                completion(response)
            }
        }
    }

    let responder: Responder
    let server: HTTPServer
    let group: EventLoopGroup
    public var port: Int { server.address.port }
    public var url: String { "\(server.isTLS ? "https" : "http")://127.0.0.1:\(port)" }

    /// With `tls`, the receiver speaks HTTPS (for forward-http's certificate checks).
    public init(answer: Answer = Answer(status: 200), tls: TLSServerContext? = nil) throws {
        responder = Responder(fallback: answer)
        group = try EventLoopGroup(count: 1)
        let socket = try ListeningSocket(address: SocketAddress(host: "127.0.0.1", port: 0))
        server = HTTPServer(
            socket: socket, group: group, configuration: HTTPServerConfiguration(), responder: responder, logger: .disabled, tls: tls)
        group.start()
        server.start()
    }

    /// Answers for the next requests, in order.
    public func script(_ answers: [Answer]) {
        responder.state.withLock { $0.script += answers }
    }

    /// Drops the scripted answers not used yet: the fallback answers from now on.
    public func clearScript() {
        responder.state.withLock { $0.script.removeAll() }
    }

    public var received: [Received] { responder.state.withLock { $0.received } }

    /// Waits until at least `count` requests arrived (or `timeout` seconds passed).
    @discardableResult
    public func waitFor(_ count: Int, timeout: Double = 15) -> [Received] {
        let deadline = Date().addingTimeInterval(timeout)
        while received.count < count && Date() < deadline {
            _ = responder.arrived.wait(timeout: .now() + .milliseconds(100))
        }
        return received
    }

    public func stop() {
        server.drain {}
        group.stop()
    }
}

/// Waits until `condition` holds (checked every 20 ms) or `timeout` seconds pass.
@discardableResult
public func eventually(timeout: Double = 15, _ condition: () -> Bool) -> Bool {
    let deadline = Date().addingTimeInterval(timeout)
    while Date() < deadline {
        if condition() { return true }
        usleep(20_000)
    }
    return condition()
}
