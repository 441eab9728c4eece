import Synchronization

/// A token bucket for `rateLimit: {perSecond, burst}`: up to `burst` requests at once, refilled
/// at `perSecond`. The clock is passed in (monotonic nanoseconds), so it is tested without time.
public final class TokenBucket: Sendable {
    public let perSecond: Double
    public let burst: Double
    private let state: Locked<(tokens: Double, lastNs: UInt64?)>

    public init(perSecond: Int, burst: Int) {
        self.perSecond = Double(max(1, perSecond))
        self.burst = Double(max(1, burst))
        state = Locked((Double(max(1, burst)), nil))
    }

    /// Takes one token. When none is left: false, and the whole seconds until one is back (for
    /// `Retry-After`, at least 1).
    public func take(nowNs: UInt64) -> (allowed: Bool, retryAfterSeconds: Int) {
        state.withLock { s in
            if let last = s.lastNs, nowNs > last {
                s.tokens = min(burst, s.tokens + Double(nowNs - last) / 1e9 * perSecond)
            }
            if s.lastNs == nil || nowNs > (s.lastNs ?? 0) { s.lastNs = nowNs }
            if s.tokens >= 1 {
                s.tokens -= 1
                return (true, 0)
            }
            let wait = (1 - s.tokens) / perSecond
            return (false, max(1, Int(wait.rounded(.up))))
        }
    }
}
