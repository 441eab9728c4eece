import Foundation
import GatewayTestKit
import Testing

@Suite("Shell plugin under a burst", .serialized)
struct ShellBurstTests {
    @Test func aBurstRunsEveryHookButNeverMoreThanMaxConcurrentAtOnce() throws {
        let overlap = repoRoot.appendingPathComponent("Tests/IntegrationTests/Fixtures/overlap.sh").path
        let config = """
            server:
              listen: 127.0.0.1:0
            spool:
              dir: @DIR@/spool
            sources:
              - name: evo
                path: /webhooks/evo
                signKey: test-sign-key
            routes:
              - name: burst
                events: ["*"]
                concurrency: 16
                handlers:
                  - plugin: shell
                    with:
                      command: ["\(overlap)"]
                      env: { OVERLAP_LOG: "@DIR@/overlap.log" }
                      maxConcurrent: 3
                      timeoutMs: 10000
                retry: {maxAttempts: 3, initialDelayMs: 50, maxDelayMs: 100}
            log:
              level: warn
            """
        try withGateway(config) { gw in
            let c = try TestClient(port: gw.port)
            let total = 120
            for i in 0..<total {
                #expect(try c.roundTrip(SignedRequest(body: #"{"eventCode":"Refund","n":\#(i)}"#).bytes).status == 200)
            }
            let log = gw.directory.appendingPathComponent("overlap.log").path
            #expect(eventually(timeout: 60) { lines(log).filter { $0.hasPrefix("end") }.count >= total }, "only \(lines(log).count / 2) of \(total) hooks ran")
            var events: [(Int, Int)] = lines(log).compactMap { line in
                let parts = line.split(separator: " ")
                guard parts.count == 2, let t = Int(parts[1]) else { return nil }
                return (t, parts[0] == "start" ? 1 : -1)
            }
            events.sort { $0.0 < $1.0 || ($0.0 == $1.0 && $0.1 < $1.1) }
            var running = 0
            var most = 0
            for (_, delta) in events {
                running += delta
                most = max(most, running)
            }
            #expect(most <= 3, "\(most) hooks ran at once with maxConcurrent 3")
            #expect(most >= 2, "hooks did not overlap at all (\(most)); the test proves nothing")
            #expect(!gw.output.contains { $0.contains("dead letter") || $0.contains("Too many open files") })
        }
    }
}
