import CGatewayPluginABI
import GatewayCore

/// One attempt's input, as the host has it.
public struct HandlerCall: Sendable {
    public var body: [UInt8]
    public var eventCode: String
    public var source: String
    public var route: String
    public var msgID: String
    /// The delivery id as text or as its parts (written straight into the call's buffer).
    public var deliveryIDText: DeliveryIDText
    public var deliveryID: String {
        switch deliveryIDText {
        case .text(let s): s
        case .parts(let p): p.description
        }
    }
    public var attempt: Int

    public enum DeliveryIDText: Sendable {
        case text(String)
        case parts(DeliveryID)
    }
    /// The body already parsed, when the caller has it (the event as received): then a plugin
    /// asking for a value does not make the host parse the body a second time.
    public var document: JSONDocument?
    /// The route's transforms over the event, which `body` was (or will be) written from: values
    /// are looked up there, so the transformed body is not parsed again, and a value no
    /// transform touches does not make the transforms run at all.
    public var view: TransformedEvent?

    public init(
        body: [UInt8], eventCode: String, source: String, route: String, msgID: String, deliveryID: String, attempt: Int,
        document: JSONDocument? = nil, view: TransformedEvent? = nil
    ) {
        self.init(
            body: body, eventCode: eventCode, source: source, route: route, msgID: msgID, deliveryID: .text(deliveryID),
            attempt: attempt, document: document, view: view)
    }

    public init(
        body: [UInt8], eventCode: String, source: String, route: String, msgID: String, deliveryID: DeliveryIDText,
        attempt: Int, document: JSONDocument? = nil, view: TransformedEvent? = nil
    ) {
        self.document = document
        self.view = view
        self.body = body
        self.eventCode = eventCode
        self.source = source
        self.route = route
        self.msgID = msgID
        self.deliveryIDText = deliveryID
        self.attempt = attempt
    }
}

/// What a handler answered (see gateway_plugin.h, "Results of handle()").
public enum HandlerOutcome: Sendable, Equatable {
    case proceed(newBody: [UInt8]?)
    case drop
    case retry(reason: String, afterMs: UInt32)
    case fail(reason: String)
}

/// A configured handler: a plugin instance made from one `with:` block.
public final class PluginInstance: @unchecked Sendable {
    // Unchecked: `instance` belongs to the plugin, which must make handle() thread-safe (ABI rule).
    public let plugin: LoadedPlugin
    let instance: UnsafeMutableRawPointer

    init(plugin: LoadedPlugin, instance: UnsafeMutableRawPointer) {
        self.plugin = plugin
        self.instance = instance
    }

    deinit {
        plugin.table.pointee.destroy?(instance)
    }

    /// Copies the UTF-8 of `s` to `out`; returns its length.
    private static func copy(_ s: String, to out: UnsafeMutablePointer<UInt8>) -> Int {
        s.withUTF8Bytes { u in
            if let p = u.baseAddress { out.update(from: p, count: u.count) }
            return u.count
        }
    }

    /// Runs one attempt. Blocks as long as the plugin does.
    public func handle(_ call: HandlerCall) -> HandlerOutcome {
        handle(
            body: call.body, eventCode: call.eventCode, source: call.source, route: call.route, msgID: call.msgID,
            deliveryID: call.deliveryIDText, attempt: call.attempt, document: call.document, view: call.view)
    }

    /// `handle(_:)` with the call's parts as arguments, borrowed. The route runner calls this:
    /// building a `HandlerCall` retained each of its strings and arrays (the body, the event's
    /// strings, the delivery ID's parts, the document and the view) into the struct and
    /// released them after, about 25 reference-count operations per call.
    public func handle(
        body: [UInt8], eventCode: String, source: String, route: String, msgID: String, deliveryID: HandlerCall.DeliveryIDText,
        attempt: Int, document: JSONDocument?, view: TransformedEvent?
    ) -> HandlerOutcome {
        guard let handle = plugin.table.pointee.handle else { return .fail(reason: "plugin has no handle function") }
        // All borrowed strings live in one buffer for the duration of the call, copied in
        // whole; with it, room for the values the plugin asks for (a filter asks for one, often
        // a few hundred bytes of metadata). Both on the stack: the heap buffers they were cost
        // two allocations per call, about 700 instructions. 1 KiB in all: above that the
        // standard library asks whether the thread's stack has room, says no on threads it did
        // not start, and allocates on the heap after all (a 2 KiB buffer cost 560 instructions
        // a call that way). A longer value is copied to the heap (`CallContext.allocateKept`).
        let idLength: Int
        switch deliveryID {
        case .text(let s): idLength = s.utf8.count
        case .parts(let p): idLength = p.byteCount
        }
        let lengths = (eventCode.utf8.count, source.utf8.count, route.utf8.count, msgID.utf8.count, idLength)
        let stringBytes = lengths.0 + lengths.1 + lengths.2 + lengths.3 + lengths.4
        let scratchBytes = max(0, CallContext.stackBytes - stringBytes)
        return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: stringBytes + scratchBytes) { buf -> HandlerOutcome in
            guard let base = buf.baseAddress else { return .fail(reason: "no memory for the call") }
            // (A nested function capturing `at` made every use an exclusivity-checked access.)
            var at = PluginInstance.copy(eventCode, to: base)
            at += PluginInstance.copy(source, to: base + at)
            at += PluginInstance.copy(route, to: base + at)
            at += PluginInstance.copy(msgID, to: base + at)
            switch deliveryID {
            case .text(let s): at += PluginInstance.copy(s, to: base + at)
            case .parts(let p): at += p.write(to: base + at)
            }
            // One object is both the plugin's view of the event and where its answer is collected.
            let context = CallContext(
                body: body, document: document, view: view,
                scratch: UnsafeMutableBufferPointer(start: base + stringBytes, count: scratchBytes))
            let collector: OutputCollector = context
            let status: Int32 = withExtendedLifetime(context) {
                body.withUnsafeBufferPointer { body in
                    var next = UnsafePointer(base)
                    func take(_ len: Int) -> gw_bytes {
                        defer { next += len }
                        return gw_bytes(ptr: next, len: len)
                    }
                    var event = gw_event(
                        struct_size: UInt32(MemoryLayout<gw_event>.size), body: gw_bytes(ptr: body.baseAddress, len: body.count),
                        event_code: take(lengths.0), source: take(lengths.1), route: take(lengths.2), msg_id: take(lengths.3),
                        delivery_id: take(lengths.4), attempt: UInt32(clamping: attempt),
                        host_ref: UnsafeRawPointer(Unmanaged.passUnretained(context).toOpaque()))
                    return collector.withOutput { out in handle(instance, &event, out) }
                }
            }
            switch status {
            case GW_CONTINUE: return .proceed(newBody: collector.newBody)
            case GW_DROP: return .drop
            case GW_RETRY: return .retry(reason: collector.reason ?? "the handler asked for a retry", afterMs: collector.retryAfterMs)
            case GW_FAIL: return .fail(reason: collector.reason ?? "the handler failed")
            default: return .fail(reason: "the handler returned an unknown status \(status)")
            }
        }
    }
}

/// Per-call state behind `gw_event.host_ref`: the body, parsed on demand for `event_value`, and
/// the values handed out (kept alive until the call ends). It collects the plugin's answer too
/// (one allocation per call, not two).
final class CallContext: OutputCollector {
    // One call's, on the calling thread: no run-time exclusivity check needed.
    let body: [UInt8]
    @exclusivity(unchecked) private var document: JSONDocument?
    private let view: TransformedEvent?
    @exclusivity(unchecked) private var parsed = false
    /// The values handed out: the first on its own (a filter asks for one; an array for it was
    /// an allocation more per call), the rest in `moreValues`.
    @exclusivity(unchecked) private var firstValue: UnsafeMutableBufferPointer<UInt8>?
    @exclusivity(unchecked) private var moreValues: [UnsafeMutableBufferPointer<UInt8>] = []
    /// The caller's memory for values, alive for the call (on its stack): taken from the front
    /// while values fit, so a filter's one value needs no allocation.
    @exclusivity(unchecked) private var scratch: UnsafeMutableBufferPointer<UInt8>
    /// The stack memory `handle` takes for a call: its strings, and the rest lent as `scratch`.
    static let stackBytes = 1024

    init(body: [UInt8], document: JSONDocument?, view: TransformedEvent? = nil, scratch: UnsafeMutableBufferPointer<UInt8> = .init(start: nil, count: 0)) {
        self.body = body
        self.document = document
        self.view = view
        self.parsed = document != nil
        self.scratch = scratch
    }

    deinit {
        firstValue?.deallocate()
        for v in moreValues { v.deallocate() }
    }

    /// The scalar text at `path`, kept alive for the rest of the call.
    func value(at path: String) -> UnsafeBufferPointer<UInt8>? {
        JSONPath(path).flatMap { value(at: $0) }
    }

    func value(at p: JSONPath) -> UnsafeBufferPointer<UInt8>? {
        // Scalars and null read from the edited view are what parsing `body` would give (it was
        // written from that view). Objects and arrays are re-encoded from a parse, as always.
        if document == nil, let view {
            guard let v = view.value(at: p) else { return nil }
            if let bytes = v.copyScalarText(allocateKept) { return bytes }
            if let s = v.scalarText { return keep(s) }
            if v.isNull { return keep("") }
        }
        if !parsed {
            parsed = true
            document = try? JSONDocument.parse(body)
        }
        guard let doc = document, let ref = doc.root[path: p] else { return nil }
        if let bytes = ref.copyScalarText(allocateKept) { return bytes }
        let text: String
        if ref.kind == .null {
            text = ""
        } else {
            text = ref.materialize().jsonText
        }
        return keep(text)
    }

    /// Memory that lives until the call ends (freed with the other kept values).
    private func allocateKept(_ capacity: Int) -> UnsafeMutableBufferPointer<UInt8> {
        let wanted = max(1, capacity)
        if wanted <= scratch.count, let base = scratch.baseAddress {
            scratch = UnsafeMutableBufferPointer(start: base + wanted, count: scratch.count - wanted)
            return UnsafeMutableBufferPointer(start: base, count: wanted)
        }
        let b = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: wanted)
        if firstValue == nil {
            firstValue = b
        } else {
            moreValues.append(b)
        }
        return b
    }

    /// Copies `text` into memory that lives until the call ends.
    private func keep(_ text: String) -> UnsafeBufferPointer<UInt8> {
        let out = allocateKept(text.utf8.count)
        return UnsafeBufferPointer(start: out.baseAddress, count: out.initialize(fromContentsOf: text.utf8))
    }
}

/// Collects what a plugin reports through `gw_output` (every setter copies). Not final: a call's
/// `CallContext` is one.
class OutputCollector {
    /// The new body a plugin set (`out->set_body`).
    var newBody: [UInt8]?
    var reason: String?
    var retryAfterMs: UInt32 = 0

    func withOutput<R>(_ body: (UnsafePointer<gw_output>) -> R) -> R {
        var out = gw_output(
            ctx: Unmanaged.passUnretained(self).toOpaque(),
            set_body: { ctx, bytes in
                guard let ctx else { return }
                let me = Unmanaged<OutputCollector>.fromOpaque(ctx).takeUnretainedValue()
                me.newBody = bytes.ptr.map { Array(UnsafeBufferPointer(start: $0, count: bytes.len)) } ?? []
            },
            set_reason: { ctx, bytes in
                guard let ctx else { return }
                let me = Unmanaged<OutputCollector>.fromOpaque(ctx).takeUnretainedValue()
                me.reason = bytes.ptr.map { String(decoding: UnsafeBufferPointer(start: $0, count: min(bytes.len, 4096)), as: UTF8.self) } ?? ""
            },
            set_retry_after_ms: { ctx, ms in
                guard let ctx else { return }
                Unmanaged<OutputCollector>.fromOpaque(ctx).takeUnretainedValue().retryAfterMs = ms
            })
        return withExtendedLifetime(self) { body(&out) }
    }
}
