/// Appends bytes into memory of a fixed capacity, remembering when it ran out instead of
/// growing: the caller sizes the buffer from what it is about to write and, in the rare case
/// the estimate was short, writes again into a larger one (`[UInt8].writing(estimate:_:)`).
///
/// Why: `SplicedEdits` writes a 2 KB body as a few dozen spans and single bytes; through
/// `Array.append`, each span cost a generic copy loop and each byte a uniqueness and capacity
/// check, some 1,500 instructions per event in the benchmark route. Here a byte is a store and
/// a span a memcpy.
struct ByteWriter {
    private let base: UnsafeMutablePointer<UInt8>?
    private let capacity: Int
    private(set) var count = 0
    /// Something did not fit (and was not written, nor anything after it).
    private(set) var overflowed = false

    init(_ buffer: UnsafeMutableBufferPointer<UInt8>) {
        base = buffer.baseAddress
        capacity = buffer.count
    }

    @inline(__always)
    mutating func append(_ byte: UInt8) {
        guard count < capacity, let base else { return overflowed = true }
        base[count] = byte
        count &+= 1
    }

    @inline(__always)
    mutating func append(contentsOf bytes: UnsafeBufferPointer<UInt8>) {
        guard let source = bytes.baseAddress else { return }
        guard bytes.count <= capacity &- count, let base else { return overflowed = true }
        (base + count).update(from: source, count: bytes.count)
        count &+= bytes.count
    }

    mutating func append(contentsOf bytes: [UInt8]) {
        bytes.withUnsafeBufferPointer { append(contentsOf: $0) }
    }
}

extension Array where Element == UInt8 {
    /// The bytes `write` makes, written into a buffer of `estimate` bytes, and written again into
    /// one twice as large as long as they do not fit (`write` must write the same each time).
    static func writing(estimate: Int, _ write: (inout ByteWriter) -> Void) -> [UInt8] {
        var capacity = Swift.max(estimate, 16)
        while true {
            var fitted = false
            let out = [UInt8](unsafeUninitializedCapacity: capacity) { buffer, count in
                var w = ByteWriter(buffer)
                write(&w)
                fitted = !w.overflowed
                count = fitted ? w.count : 0
            }
            if fitted { return out }
            capacity = capacity.multipliedReportingOverflow(by: 2).overflow ? Int.max : capacity * 2
        }
    }
}
