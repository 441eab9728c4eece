import Foundation
import GatewayCrypto
import Testing

/// Digests through the reused per-thread context: known answers, pieces vs parts, and the
/// context surviving a switch of algorithm and use from several threads.
@Suite("Digests")
struct DigestTests {
    // Known answers from `printf 'abc' | openssl dgst -sha256 / -sha512 / -sm3`.
    static let abc: [(DigestAlgorithm, String)] = [
        (.sha256, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
        (.sha512, "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f"),
        (.sm3, "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"),
    ]

    func hex(_ b: [UInt8]) -> String { b.map { String(format: "%02x", $0) }.joined() }

    @Test func knownAnswersWhateverTheOrderOfAlgorithms() throws {
        // Twice round, so each algorithm runs on a context last used by another one.
        for _ in 0..<2 {
            for (a, expected) in Self.abc {
                #expect(hex(try Digest.hash(a, Array("abc".utf8))) == expected)
                #expect(hex(try Digest.hash(a, parts: [[0x61], [], [0x62, 0x63]])) == expected)
                let pieces = try Digest.hash(a) { update in
                    for c in "abc".utf8 { withUnsafeBytes(of: c) { update($0) } }
                }
                #expect(hex(pieces) == expected)
                #expect(pieces.count == a.outputSize)
            }
        }
    }

    /// The ingress's de-duplication key is SHA-256(source, 0, body) cut to 16 bytes; a change
    /// here would make a restarted gateway deliver again what it had acknowledged.
    @Test func theDeduplicationDigestIsUnchanged() throws {
        let body = Array(#"{"eventCode":"Payment"}"#.utf8)
        let whole = try Digest.hash(.sha256, Array("evo".utf8) + [0] + body)
        let pieces = try Digest.hash(.sha256) { update in
            "evo".utf8.withContiguousStorageIfAvailable { update(UnsafeRawBufferPointer($0)) }
            withUnsafeBytes(of: UInt8(0)) { update($0) }
            body.withUnsafeBytes { update($0) }
        }
        #expect(pieces == whole)
    }

    @Test func threadsHashConcurrentlyWithTheirOwnContexts() throws {
        let inputs = (0..<8).map { i in (0..<(1000 + 37 * i)).map { UInt8(($0 * 31 + i) & 0xFF) } }
        let expected = try inputs.map { try Digest.hash(.sha256, $0) }
        let results = Array(repeating: [UInt8](), count: inputs.count)
        let box = ResultBox(results)
        DispatchQueue.concurrentPerform(iterations: inputs.count * 25) { k in
            let i = k % inputs.count
            let h = (try? Digest.hash(.sha256, inputs[i])) ?? []
            box.record(i, h)
        }
        for i in inputs.indices { #expect(box.values(i).allSatisfy { $0 == expected[i] }) }
        #expect(box.count == inputs.count * 25)
    }

    final class ResultBox: @unchecked Sendable {
        private let lock = NSLock()
        private var seen: [[[UInt8]]]
        private(set) var count = 0
        init(_ r: [[UInt8]]) { seen = r.map { _ in [] } }
        func record(_ i: Int, _ h: [UInt8]) {
            lock.lock()
            seen[i].append(h)
            count += 1
            lock.unlock()
        }
        func values(_ i: Int) -> [[UInt8]] {
            lock.lock()
            defer { lock.unlock() }
            return seen[i]
        }
    }
}
