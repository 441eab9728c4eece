import Foundation
import GatewayFuzzTargets

#if FUZZING
import CFuzzDriver

/// One input. The target comes from `GATEWAY_FUZZ_TARGET` (see `make fuzz`).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? []
    FuzzDriver.target(bytes)
    return 0
}

/// The process entry point SwiftPM links as `main`: hands over to libFuzzer's driver.
@_cdecl("gateway_fuzz_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    var c = argc
    var v = argv
    return LLVMFuzzerRunDriver(&c, &v) { data, size in fuzzOneInput(data, size) }
}

enum FuzzDriver {
    static let target: @Sendable ([UInt8]) -> Void = {
        let name = ProcessInfo.processInfo.environment["GATEWAY_FUZZ_TARGET"] ?? ""
        guard let t = FuzzTargets.all[name] else {
            FileHandle.standardError.write(Data("set GATEWAY_FUZZ_TARGET to one of: \(FuzzTargets.all.keys.sorted())\n".utf8))
            exit(2)
        }
        return t
    }()
}
#else
/// Without the fuzzer: `gateway-fuzz TARGET FILE|DIR...` replays inputs (to reproduce a crasher
/// under a debugger, or to check a corpus).
@main
enum FuzzDriver {
    static func main() {
        let args = CommandLine.arguments
        guard args.count >= 3, let target = FuzzTargets.all[args[1]] else {
            print("usage: gateway-fuzz TARGET FILE|DIR...  (targets: \(FuzzTargets.all.keys.sorted().joined(separator: ", ")))")
            exit(2)
        }
        var n = 0
        for path in args[2...] {
            var isDir: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else { continue }
            let files = isDir.boolValue
                ? ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).sorted().map { path + "/" + $0 } : [path]
            for f in files {
                guard let d = FileManager.default.contents(atPath: f) else { continue }
                target(Array(d))
                n += 1
            }
        }
        print("\(args[1]): \(n) inputs, no failure")
    }
}
#endif
