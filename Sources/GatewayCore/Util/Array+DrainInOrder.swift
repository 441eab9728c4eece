extension Array {
    /// Hands each element to `body`, first to last, letting go of each as soon as `body` returns
    /// (the array ends empty and keeps its capacity).
    ///
    /// Why: a batch of closures handed over by another thread holds requests' state; iterating
    /// with `for` keeps every element alive until the whole batch is done, which often makes
    /// this thread, not the one the work was handed to, free that state (see Spool.complete).
    public mutating func drainInOrder(_ body: (Element) -> Void) {
        reverse()
        while let e = popLast() { body(e) }
    }
}
