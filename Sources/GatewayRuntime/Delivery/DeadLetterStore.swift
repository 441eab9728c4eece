import Foundation
import Synchronization

/// Dead letters, in memory for now (the durable spool keeps them on disk). Bounded: past
/// `capacity` the oldest are dropped and counted, so a failing route cannot exhaust memory.
public final class DeadLetterStore: Sendable {
    private let state = Mutex<(letters: [DeadLetter], dropped: Int)>(([], 0))
    let capacity: Int

    public init(capacity: Int = 10_000) {
        self.capacity = capacity
    }

    func add(_ d: DeadLetter) {
        state.withLock { s in
            s.letters.append(d)
            if s.letters.count > capacity {
                s.letters.removeFirst(s.letters.count - capacity)
                s.dropped += 1
            }
        }
    }

    public var all: [DeadLetter] { state.withLock { $0.letters } }
    public var count: Int { state.withLock { $0.letters.count } }
    public var dropped: Int { state.withLock { $0.dropped } }

    public func forRoute(_ route: String) -> [DeadLetter] { all.filter { $0.route == route } }
}
