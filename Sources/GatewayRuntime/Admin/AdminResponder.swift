import GatewayCore
import GatewayHTTP

/// The admin listener: `GET /healthz` (the process is alive and its loops answer) and
/// `GET /readyz` (configuration loaded and listening; 503 while starting or shutting down).
public final class AdminResponder: HTTPResponder {
    private let state: GatewayState

    public init(state: GatewayState) {
        self.state = state
    }

    public func respond(to request: HTTPRequest, context: RequestContext, completion: ResponseCompletion) {
        let path = request.head.path
        let known = ["/healthz", "/readyz"]
        guard known.contains(String(path)) else {
            return completion(.error(GatewayError(.notFound, "no such admin endpoint")))
        }
        guard request.head.method == "GET" || request.head.method == "HEAD" else {
            return completion(.error(GatewayError(.methodNotAllowed, "use GET", allow: "GET, HEAD")))
        }
        switch path {
        case "/healthz":
            completion(.json(200, Array(#"{"status":"ok"}"#.utf8)))
        default:
            if state.isReady {
                completion(.json(200, Array(#"{"status":"ready","generation":\#(state.generation)}"#.utf8)))
            } else {
                completion(.json(503, Array(#"{"status":"not ready"}"#.utf8)))
            }
        }
    }
}
