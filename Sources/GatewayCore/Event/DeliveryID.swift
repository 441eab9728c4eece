/// The id of one notification's delivery on one route (`X-Gateway-Delivery-Id`,
/// `GATEWAY_DELIVERY_ID`, `gw_event.delivery_id`): `SPOOLID-<record id in lower-case hex>-ROUTE`,
/// the same every time, also after a restart.
///
/// Kept as its parts and written out only where it is read: a plugin call writes its bytes
/// straight into the call's buffer, and a delivery a filter drops on the receiving thread never
/// builds the string (an allocation and some 800 instructions per routed notification).
public struct DeliveryID: Sendable, Equatable, CustomStringConvertible {
    /// The spool's id followed by `-`.
    public let prefix: [UInt8]
    public let record: UInt64
    public let route: String

    public init(prefix: [UInt8], record: UInt64, route: String) {
        self.prefix = prefix
        self.record = record
        self.route = route
    }

    private var hexDigits: Int { record == 0 ? 1 : (64 - record.leadingZeroBitCount + 3) / 4 }

    /// Bytes `write` writes.
    public var byteCount: Int { prefix.count + hexDigits + 1 + route.utf8.count }

    /// Writes the id to `out` (room for `byteCount` bytes); returns the bytes written.
    public func write(to out: UnsafeMutablePointer<UInt8>) -> Int {
        var n = 0
        prefix.withUnsafeBufferPointer { p in
            if let base = p.baseAddress { out.update(from: base, count: p.count) }
            n = p.count
        }
        let digits = hexDigits
        for k in stride(from: digits - 1, through: 0, by: -1) {
            let d = UInt8(truncatingIfNeeded: record >> UInt64(4 * k)) & 0x0F
            out[n] = d < 10 ? 0x30 + d : 0x57 + d
            n += 1
        }
        out[n] = UInt8(ascii: "-")
        n += 1
        route.withUTF8Bytes { r in
            if let base = r.baseAddress { (out + n).update(from: base, count: r.count) }
            n += r.count
        }
        return n
    }

    public var description: String {
        String(unsafeUninitializedCapacity: byteCount) { out in
            guard let base = out.baseAddress else { return 0 }
            return write(to: base)
        }
    }
}
