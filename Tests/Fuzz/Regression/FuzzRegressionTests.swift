import Foundation
import GatewayFuzzTargets
import Testing

let fuzzDir = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()

/// Every file under `Tests/Fuzz/Corpus/<target>/` (seeds, and crashers kept as regressions under
/// `crash-*`) goes through its target again: a crash or a failed property fails the suite.
@Suite("Fuzz corpus and crashers")
struct FuzzRegressionTests {
    @Test(arguments: FuzzTargets.all.keys.sorted())
    func replay(target: String) throws {
        let dir = fuzzDir.appendingPathComponent("Corpus/\(target)")
        let files = try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted()
        #expect(files.count >= 3, "the seed corpus of \(target) is missing")
        let run = try #require(FuzzTargets.all[target])
        for f in files {
            let data = try Data(contentsOf: dir.appendingPathComponent(f))
            run(Array(data))
        }
    }
}
