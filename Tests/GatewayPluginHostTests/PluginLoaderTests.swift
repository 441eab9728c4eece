import CGatewayPluginABI
import Foundation
import GatewayCore
import GatewayTestKit
import Glibc
import Testing

@testable import GatewayPluginHost

/// The directory holding the built plugins (next to the gateway binary).
let pluginDir = URL(fileURLWithPath: GatewayProcess.binary).deletingLastPathComponent().path

func call(_ body: String, route: String = "r", attempt: Int = 1, eventCode: String = "Payment") -> HandlerCall {
    HandlerCall(body: Array(body.utf8), eventCode: eventCode, source: "evo", route: route, msgID: "m1", deliveryID: "dl_1", attempt: attempt)
}

/// A private copy of a built plugin under another name or mode, in its own directory.
func copyPlugin(_ name: String, as newName: String, mode: mode_t = 0o755, dirMode: mode_t = 0o755) throws -> String {
    let dir = try GatewayProcess.makeTempDirectory("plug")
    chmod(dir.path, dirMode)
    let src = pluginDir + "/" + PluginLoader.fileName(for: name)
    let dst = dir.appendingPathComponent(PluginLoader.fileName(for: newName)).path
    try FileManager.default.copyItem(atPath: src, toPath: dst)
    chmod(dst, mode)
    return dir.path
}

@Suite("Plugin loader")
struct PluginLoaderTests {
    @Test func loadsEveryShippedPluginAndTheCOne() throws {
        for name in ["forward-http", "file", "shell", "metadata-filter", "c-echo"] {
            let p = try PluginLoader.load(name: name, searchPath: [pluginDir])
            #expect(p.name == name)
            #expect(!p.description.isEmpty)
        }
        // Only the filter declares GW_PLUGIN_NONBLOCKING; c-echo has the table of a plugin built
        // before that flag existed (shorter struct_size), which still loads, as blocking.
        #expect(try PluginLoader.load(name: "metadata-filter", searchPath: [pluginDir]).isNonBlocking)
        for name in ["forward-http", "file", "shell", "c-echo"] {
            #expect(try !PluginLoader.load(name: name, searchPath: [pluginDir]).isNonBlocking, "\(name)")
        }
        // Only the filter reads values alone (GW_PLUGIN_BODY_UNUSED); an old table reads bodies.
        #expect(try !PluginLoader.load(name: "metadata-filter", searchPath: [pluginDir]).readsBody)
        for name in ["forward-http", "file", "shell", "c-echo"] {
            #expect(try PluginLoader.load(name: name, searchPath: [pluginDir]).readsBody, "\(name)")
        }
        // Only the filter is pure (GW_PLUGIN_PURE: asked before the store); PURE counts only
        // with NONBLOCKING, since a pure call must also be one that never waits.
        #expect(try PluginLoader.load(name: "metadata-filter", searchPath: [pluginDir]).isPure)
        for name in ["forward-http", "file", "shell", "c-echo"] {
            #expect(try !PluginLoader.load(name: name, searchPath: [pluginDir]).isPure, "\(name)")
        }
        let table = UnsafeMutablePointer<gw_plugin_v1>.allocate(capacity: 1)
        defer { table.deallocate() }
        #expect(!LoadedPlugin(name: "x", path: "/x", description: "", table: table, flags: GW_PLUGIN_PURE).isPure)
        #expect(LoadedPlugin(name: "x", path: "/x", description: "", table: table, flags: GW_PLUGIN_PURE | GW_PLUGIN_NONBLOCKING).isPure)
        // Loaded once per process: the same table again.
        let a = try PluginLoader.load(name: "file", searchPath: [pluginDir])
        let b = try PluginLoader.load(name: "file", searchPath: [pluginDir])
        #expect(a === b)
    }

    @Test func refusesWithClearErrors() throws {
        func message(_ name: String, _ dirs: [String]) -> String {
            do {
                _ = try PluginLoader.load(name: name, searchPath: dirs)
                return "loaded"
            } catch {
                return error.message
            }
        }
        #expect(message("nope", [pluginDir]).contains("plugin 'nope' not found: no libgwplugin-nope.so in \(pluginDir)"))
        #expect(message("c-badabi", [pluginDir]).contains("was built for plugin ABI version 99; this gateway speaks version 1"))
        // A shared object without the entry symbol.
        let noSym = try GatewayProcess.makeTempDirectory("plug")
        let libm = ["/lib/x86_64-linux-gnu/libm.so.6", "/usr/lib/x86_64-linux-gnu/libm.so.6"].first { FileManager.default.fileExists(atPath: $0) } ?? ""
        try FileManager.default.copyItem(atPath: libm, toPath: noSym.appendingPathComponent("libgwplugin-nosym.so").path)
        #expect(message("nosym", [noSym.path]).contains("is not a gateway plugin: it has no gw_plugin_register_v1 symbol"))
        // A file that is not a shared object at all.
        let junk = try GatewayProcess.makeTempDirectory("plug")
        try "not elf".writeAtomically(to: junk.appendingPathComponent("libgwplugin-junk.so").path)
        chmod(junk.appendingPathComponent("libgwplugin-junk.so").path, 0o644)
        #expect(message("junk", [junk.path]).contains("cannot load"))
        // A plugin file renamed: its own name does not match.
        let renamed = try copyPlugin("c-echo", as: "other")
        #expect(message("other", [renamed]).contains("calls itself 'c-echo', not 'other'"))
        // Writable by others: refused before it is ever opened.
        let writable = try copyPlugin("c-echo", as: "c-echo", mode: 0o666)
        #expect(message("c-echo", [writable]).contains("is writable by other users"))
        let groupWritable = try copyPlugin("c-echo", as: "c-echo", mode: 0o775)
        #expect(message("c-echo", [groupWritable]).contains("is writable by other users"))
        let openDir = try copyPlugin("c-echo", as: "c-echo", dirMode: 0o777)
        #expect(message("c-echo", [openDir]).contains("directory \(openDir) is writable by other users"))
    }

    @Test func pluginsValidateTheirConfiguration() throws {
        func refusal(_ plugin: String, _ json: String) -> String? {
            do {
                _ = try PluginLoader.load(name: plugin, searchPath: [pluginDir]).makeInstance(configJSON: Array(json.utf8))
                return nil
            } catch {
                return error.message
            }
        }
        #expect(refusal("forward-http", "{}") == "with.url is required")
        #expect(refusal("forward-http", #"{"url":"ftp://x"}"#)?.contains("http://") == true)
        #expect(refusal("forward-http", #"{"url":"http://127.0.0.1:1/","timeoutMs":"soon"}"#) == "with.timeoutMs must be an integer")
        #expect(refusal("forward-http", #"{"url":"http://127.0.0.1:1/","colour":"red"}"#) == "unknown key 'colour' in with")
        #expect(refusal("forward-http", #"{"url":"http://127.0.0.1:1/","headers":{"Host":"x"}}"#) == "with.headers: Host is set by the gateway")
        #expect(refusal("file", "{}") == "with.path is required")
        #expect(refusal("file", #"{"path":"/tmp/{nope}.log"}"#)?.contains("unknown placeholder {nope}") == true)
        #expect(refusal("shell", #"{"command":[]}"#)?.contains("with.command must be a list") == true)
        #expect(refusal("shell", #"{"command":["/nonexistent/script"]}"#)?.contains("is not an executable file") == true)
        #expect(refusal("shell", #"{"command":["/bin/true"],"env":{"GATEWAY_X":"y"}}"#)?.contains("GATEWAY_ variables are set by the gateway") == true)
        #expect(refusal("metadata-filter", #"{"when":[]}"#) == "with.when must list at least one condition")
        #expect(refusal("metadata-filter", #"{"when":[{"key":"a","equals":"b","prefix":"c"}]}"#)?.contains("needs exactly one of") == true)
        #expect(refusal("metadata-filter", #"{"when":[{"key":"a","matches":"("}]}"#)?.contains("invalid regular expression") == true)
        #expect(refusal("c-echo", "{}") == "with.path is required")
        #expect(refusal("file", #"{"path":"/tmp/x.log"}"#) == nil)
    }

    @Test func cPluginHandlesEventsThroughTheABI() throws {
        let dir = try GatewayProcess.makeTempDirectory("cecho")
        let out = dir.appendingPathComponent("out.txt").path
        let inst = try PluginLoader.load(name: "c-echo", searchPath: [pluginDir]).makeInstance(configJSON: Array(#"{"path":"\#(out)"}"#.utf8))
        #expect(inst.handle(call(#"{"a":1}"#)) == .proceed(newBody: nil))
        #expect(inst.handle(call(#"{"c-echo-fail":1}"#)) == .fail(reason: "c-echo was told to fail"))
        #expect(inst.handle(call(#"{"c-echo-retry":1}"#)) == .retry(reason: "c-echo was told to retry", afterMs: 0))
        #expect(inst.handle(call(#"{"c-echo-drop":1}"#)) == .drop)
        #expect(try String(contentsOfFile: out, encoding: .utf8) == "1 Payment {\"a\":1}\n")
    }

    @Test func metadataFilterReadsEveryFormat() throws {
        let plugin = try PluginLoader.load(name: "metadata-filter", searchPath: [pluginDir])
        let acme = try plugin.makeInstance(configJSON: Array(#"{"when":[{"key":"tenant","equals":"acme"}]}"#.utf8))
        func body(_ metadata: String) -> String { #"{"eventCode":"Payment","metadata":\#(JSONValue.quoted(metadata))}"# }
        #expect(acme.handle(call(body(#"{"tenant":"acme","region":"sg"}"#))) == .proceed(newBody: nil))
        #expect(acme.handle(call(body("tenant=acme&region=sg"))) == .proceed(newBody: nil))
        #expect(acme.handle(call(body("region=sg;tenant=acme"))) == .proceed(newBody: nil))
        #expect(acme.handle(call(body("tenant=globex&region=sg"))) == .drop)
        #expect(acme.handle(call(body("just some text"))) == .drop)
        #expect(acme.handle(call(#"{"eventCode":"Payment"}"#)) == .drop)
        let nested = try plugin.makeInstance(configJSON: Array(#"{"when":[{"key":"customer.tier","in":["gold","vip"]},{"key":"order","exists":true}]}"#.utf8))
        #expect(nested.handle(call(body(#"{"customer":{"tier":"vip"},"order":7}"#))) == .proceed(newBody: nil))
        #expect(nested.handle(call(body(#"{"customer":{"tier":"basic"},"order":7}"#))) == .drop)
        let raw = try plugin.makeInstance(configJSON: Array(#"{"when":[{"raw":{"matches":"^VIP-[0-9]+$"}}]}"#.utf8))
        #expect(raw.handle(call(body("VIP-42"))) == .proceed(newBody: nil))
        #expect(raw.handle(call(body("vip-42"))) == .drop)
    }

    @Test func filePluginAppendsWholeLinesFromManyThreads() throws {
        let dir = try GatewayProcess.makeTempDirectory("file")
        let inst = try PluginLoader.load(name: "file", searchPath: [pluginDir])
            .makeInstance(configJSON: Array(#"{"path":"\#(dir.path)/{route}/{eventCode}.jsonl"}"#.utf8))
        let body = #"{"eventCode":"Payment","pad":"\#(String(repeating: "x", count: 5000))"}"#
        DispatchQueue.concurrentPerform(iterations: 400) { i in
            _ = inst.handle(call(body, route: "r\(i % 2)"))
        }
        for r in ["r0", "r1"] {
            let path = dir.path + "/\(r)/Payment.jsonl"
            let lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n")
            #expect(lines.count == 200)
            #expect(lines.allSatisfy { $0 == Substring(body) })
            var st = stat()
            stat(path, &st)
            #expect(st.st_mode & 0o777 == 0o600)
        }
    }
}

extension PluginLoaderTests {
    /// `{eventCode}` and `{route}` become one safe path component each: separators and NUL
    /// become `_`, a leading dot (`..`, hidden files) gets a `_` before it, at most 64 bytes, cut
    /// between characters.
    @Test func filePluginPathPlaceholdersStayInsideTheirDirectory() throws {
        let dir = try GatewayProcess.makeTempDirectory("file")
        defer { try? FileManager.default.removeItem(at: dir) }
        let inst = try PluginLoader.load(name: "file", searchPath: [pluginDir])
            .makeInstance(configJSON: Array(#"{"path":"\#(dir.path)/out/{route}--{eventCode}.jsonl"}"#.utf8))
        let long = String(repeating: "é", count: 40)  // 80 bytes: cut to 64, between two é
        let cases: [(route: String, code: String, file: String)] = [
            ("ledger", "Payment", "ledger--Payment.jsonl"),
            ("a/b", "../../etc", "a_b--_.._.._etc.jsonl"),
            (".hidden", "x\\y", "_.hidden--x_y.jsonl"),
            ("r", long, "r--" + String(repeating: "é", count: 32) + ".jsonl"),
            ("", "Refund", "_--Refund.jsonl"),
        ]
        for c in cases {
            #expect(inst.handle(call(#"{"n":1}"#, route: c.route, eventCode: c.code)) == .proceed(newBody: nil), "\(c)")
        }
        let files = try FileManager.default.contentsOfDirectory(atPath: dir.path + "/out").sorted()
        #expect(files == cases.map(\.file).sorted())
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted() == ["out"])
    }
}

@Suite("Host services")
struct HostServicesTests {
    /// A thread's last parsed path is reused only for the same bytes: another path of the same
    /// length, a shorter one, one that is not a path, then the first again.
    @Test func theLastPathIsReusedOnlyForTheSameBytes() {
        let cache = HostServices.LastPath()
        func parse(_ s: String) -> [String]? {
            let b = Array(s.utf8)
            return b.withUnsafeBufferPointer { cache.path(for: gw_bytes(ptr: $0.baseAddress, len: $0.count)) }?.segments
        }
        #expect(parse("a.b") == ["a", "b"])
        #expect(parse("a.b") == ["a", "b"])
        #expect(parse("a.c") == ["a", "c"])
        #expect(parse("a") == ["a"])
        #expect(parse("a.") == nil)
        #expect(parse("a.") == nil)
        #expect(parse("") == nil)
        #expect(parse("a.b") == ["a", "b"])
    }

    /// A plugin built before the TLS fields were appended passes a shorter request: the host
    /// must read only `struct_size` bytes (here the bytes after it are garbage that would
    /// otherwise be taken as a CA file pointer).
    @Test func anOlderShorterHTTPRequestIsReadOnlyUpToItsSize() throws {
        let receiver = try RecordingHTTPServer()
        defer { receiver.stop() }
        let url = Array((receiver.url + "/old").utf8)
        let method = Array("POST".utf8)
        let body = Array("{}".utf8)
        let oldSize = MemoryLayout<gw_http_request>.offset(of: \.ca_file)!
        let raw = UnsafeMutableRawPointer.allocate(byteCount: MemoryLayout<gw_http_request>.size, alignment: 16)
        defer { raw.deallocate() }
        raw.initializeMemory(as: UInt8.self, repeating: 0xAB, count: MemoryLayout<gw_http_request>.size)
        let status = method.withUnsafeBufferPointer { m in
            url.withUnsafeBufferPointer { u in
                body.withUnsafeBufferPointer { b -> Int32 in
                    let req = raw.bindMemory(to: gw_http_request.self, capacity: 1)
                    req.pointee.struct_size = UInt32(oldSize)
                    req.pointee.method = gw_bytes(ptr: m.baseAddress, len: m.count)
                    req.pointee.url = gw_bytes(ptr: u.baseAddress, len: u.count)
                    req.pointee.headers = nil
                    req.pointee.header_count = 0
                    req.pointee.body = gw_bytes(ptr: b.baseAddress, len: b.count)
                    req.pointee.timeout_ms = 2000
                    var resp = gw_http_response(struct_size: UInt32(MemoryLayout<gw_http_response>.size), status: 0, retry_after_ms: 0, error: gw_bytes(ptr: nil, len: 0))
                    _ = HostServices.httpRequest(nil, req, &resp)
                    return resp.status
                }
            }
        }
        #expect(status == 200)
        #expect(receiver.received.first?.target == "/old")
    }
}

@Suite("Host HTTP client")
struct PooledHTTPClientTests {
    /// Whatever a plugin passes, a header value with CR or LF (or a name that is not a token)
    /// is refused before anything is sent: it could add headers or start a second request.
    @Test func headersThatCouldSplitTheRequestAreRefusedUnsent() throws {
        let receiver = try RecordingHTTPServer()
        defer { receiver.stop() }
        let client = PooledHTTPClient()
        let bad: [(String, String)] = [
            ("X-Code", "Payment\r\nX-Injected: 1"), ("X-Code", "a\nb"), ("X-Code", "a\u{0}b"), ("X Code", "a"), ("", "a"),
            ("X-Code:", "a"), ("X-Code", "a\u{7f}"),
        ]
        for h in bad {
            let r = client.send(method: "POST", url: receiver.url + "/in", headers: [h], body: Array("{}".utf8), timeoutMs: 2000)
            #expect(r.status == 0 && "\(r.error)".contains("invalid header"), "\(h)")
        }
        // A tab and obs-text in a value are allowed; the request then goes out, once.
        let ok = client.send(
            method: "POST", url: receiver.url + "/in", headers: [("X-Code", "a\tb é")], body: Array("{}".utf8), timeoutMs: 2000)
        #expect(ok.status == 200)
        #expect(receiver.waitFor(1).count == 1)
        #expect(receiver.received.count == 1)
    }

    /// The method goes into the request line as the plugin gives it: one that is not a token
    /// (a space, CR LF) is refused before anything is sent.
    @Test func aMethodThatIsNotATokenIsRefusedUnsent() throws {
        let receiver = try RecordingHTTPServer()
        defer { receiver.stop() }
        let client = PooledHTTPClient()
        for m in ["POST /x HTTP/1.1\r\nX-Injected: 1\r\n\r\nPOST", "PO ST", "", "POST\n"] {
            let r = client.send(method: m, url: receiver.url + "/in", headers: [], body: Array("{}".utf8), timeoutMs: 2000)
            #expect(r.status == 0 && "\(r.error)".contains("invalid method"), "\(m)")
        }
        let ok = client.send(method: "PUT", url: receiver.url + "/in", headers: [], body: [], timeoutMs: 2000)
        #expect(ok.status == 200)
        #expect(receiver.waitFor(1).count == 1)
        #expect(receiver.received.map(\.method) == ["PUT"])
    }

    /// The request is written from the caller's bytes: what arrives is the method, the URL's
    /// target, the headers in order and the body, with a Content-Length the gateway adds; the
    /// destination is found again by its bytes (a second URL on the same server, then the
    /// first again, each to its own target).
    @Test func whatArrivesIsWhatWasPassed() throws {
        let receiver = try RecordingHTTPServer(answer: .init(status: 503, headers: [("Retry-After", "3")]))
        defer { receiver.stop() }
        let client = PooledHTTPClient()
        let body = Array(#"{"eventCode":"Payment","n":"\u00e9"}"#.utf8)
        let targets = ["/a?x=1", "/b", "/a?x=1"]
        for (i, t) in targets.enumerated() {
            let r = client.send(
                method: "POST", url: receiver.url + t, headers: [("X-Gateway-Attempt", "\(i + 1)"), ("X-Team", "pay\tments")], body: body,
                timeoutMs: 2000)
            #expect(r.status == 503)
            #expect(r.retryAfterMs == 3000)
        }
        let got = receiver.waitFor(3)
        #expect(got.map(\.target) == targets)
        for (i, g) in got.enumerated() {
            #expect(g.method == "POST")
            #expect(g.body == body)
            #expect(g.headers["Content-Length"] == "\(body.count)")
            #expect(g.headers.fields.map(\.name).prefix(3) == ["Host", "X-Gateway-Attempt", "X-Team"])
            #expect(g.headers["X-Gateway-Attempt"] == "\(i + 1)")
            #expect(g.headers["X-Team"] == "pay\tments")
        }
    }
}

@Suite("Event values after transforms")
struct TransformedValueTests {
    /// A handler after transforms reads values from the edited view instead of parsing the body
    /// again: every answer must be the one a parse of the transformed body gives.
    @Test func theEditedViewAnswersLikeAParseOfTheBody() throws {
        let text = #"{"eventCode":"Payment","metadata":"tenant=acme","n":12.50,"ok":true,"nil":null,"#
            + #""payment":{"status":"Success","ids":["a","b"],"card":{"holderName":"JANE","first6No":"411111"}},"esc":"a\"b\u00e9"}"#
        let doc = try JSONDocument.parse(Array(text.utf8))
        let transforms: [Transform] = [
            .remove([JSONPath("payment.card.holderName")!]),
            .mask([JSONPath("payment.card.first6No")!]),
            .set([(JSONPath("gateway.route")!, try Template("ledger")), (JSONPath("ref")!, try Template("{{payment.status}}"))]),
            .rename([(JSONPath("metadata")!, JSONPath("meta.data")!)]),
        ]
        let view = TransformedEvent(doc.root, transforms: transforms)
        let body = view.serialized()
        let paths = [
            "eventCode", "meta.data", "metadata", "n", "ok", "nil", "payment.status", "payment.ids.1", "payment.ids.7",
            "payment.card.holderName", "payment.card.first6No", "gateway.route", "ref", "esc", "missing.deep", "eventCode.x",
        ]
        let viaView = CallContext(body: body, document: nil, view: view)
        let viaParse = CallContext(body: body, document: nil)
        func str(_ p: UnsafeBufferPointer<UInt8>?) -> String? { p.map { String(decoding: $0, as: UTF8.self) } }
        for path in paths {
            #expect(str(viaView.value(at: path)) == str(viaParse.value(at: path)), "\(path)")
        }
        // Both answer what conditions and templates see (escapes decoded, numbers as written).
        for ctx in [viaView, viaParse] {
            #expect(str(ctx.value(at: "esc")) == "a\"b\u{e9}")
            #expect(str(ctx.value(at: "n")) == "12.50")
            #expect(str(ctx.value(at: "ok")) == "true")
            #expect(str(ctx.value(at: "ref")) == "Success")
            #expect(str(ctx.value(at: "gateway.route")) == "ledger")
        }
        // The view really answers: with a body that says otherwise, scalars still come from it.
        let viewOnly = CallContext(body: Array("{}".utf8), document: nil, view: view)
        #expect(str(viewOnly.value(at: "payment.card.first6No")) == "**1111")
        #expect(str(viewOnly.value(at: "meta.data")) == "tenant=acme")
        #expect(str(viewOnly.value(at: "nil")) == "")
        #expect(str(viewOnly.value(at: "payment.card.holderName")) == nil)
        // Objects and arrays are re-encoded from a parse, as before.
        #expect(str(viaView.value(at: "payment.ids")) == #"["a","b"]"#)
        // Values no transform touches come from the event as received: the transforms do not
        // run until a value they touch (or the body) is asked for.
        let lazy = TransformedEvent(doc.root, transforms: transforms)
        let lazyCtx = CallContext(body: body, document: nil, view: lazy)
        for path in ["eventCode", "n", "ok", "nil", "esc", "payment.status", "payment.ids.1", "payment.ids.7", "missing.deep", "eventCode.x"] {
            #expect(str(lazyCtx.value(at: path)) == str(viaParse.value(at: path)), "\(path)")
        }
        #expect(!lazy.isApplied)
        #expect(str(lazyCtx.value(at: "payment.card.first6No")) == "**1111")
        #expect(lazy.isApplied)
    }
}

@Suite("Values lent to a plugin")
struct LentValueTests {
    /// Values are copied into the caller's scratch memory while they fit, then onto the heap:
    /// every value asked for stays intact until the call ends, wherever it was put.
    @Test func valuesStayIntactWhenTheScratchRunsOut() throws {
        let long = String(repeating: "x", count: 40)
        let text = #"{"a":"\u0041bc","b":"\#(long)","c":"d\u00e9f","n":7}"#
        let scratch = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: 16)
        defer { scratch.deallocate() }
        scratch.initialize(repeating: 0)
        let ctx = CallContext(body: Array(text.utf8), document: nil, scratch: scratch)
        func str(_ p: UnsafeBufferPointer<UInt8>?) -> String? { p.map { String(decoding: $0, as: UTF8.self) } }
        let a = ctx.value(at: "a")  // "Abc": decoded, so copied (3 bytes of scratch)
        let b = ctx.value(at: "b")  // 40 bytes: beyond the scratch, on the heap
        let c = ctx.value(at: "c")  // 4 bytes: fits in what is left
        let n = ctx.value(at: "n")
        #expect(str(a) == "Abc" && str(b) == long && str(c) == "d\u{e9}f" && str(n) == "7")
        let inScratch = { (p: UnsafeBufferPointer<UInt8>?) -> Bool in
            guard let p = p?.baseAddress, let s = scratch.baseAddress else { return false }
            return p >= UnsafePointer(s) && p < UnsafePointer(s + scratch.count)
        }
        #expect(inScratch(a) && inScratch(c) && !inScratch(b))
        // Asked again and after others: the earlier answers are unchanged.
        #expect(str(ctx.value(at: "b")) == long && str(a) == "Abc" && str(c) == "d\u{e9}f")
    }
}

@Suite("metadata-filter semantics")
struct MetadataFilterTests {
    /// Whether the filter with `when` passes an event whose `metadata` is `metadata` (a JSON
    /// value: a string, or null to leave the field out).
    func passes(_ when: String, metadata: String?) throws -> Bool {
        let plugin = try PluginLoader.load(name: "metadata-filter", searchPath: [pluginDir])
        let filter = try plugin.makeInstance(configJSON: Array(#"{"when":\#(when)}"#.utf8))
        let body = metadata.map { #"{"eventCode":"Payment","metadata":\#(JSONValue.quoted($0))}"# } ?? #"{"eventCode":"Payment"}"#
        let call = HandlerCall(
            body: Array(body.utf8), eventCode: "Payment", source: "evo", route: "r", msgID: "m", deliveryID: "d", attempt: 1)
        switch filter.handle(call) {
        case .proceed: return true
        case .drop: return false
        case let other: throw PluginError("unexpected outcome \(other)")
        }
    }

    @Test func jsonKeysNestedDottedAndIndexed() throws {
        let tier = #"[{"key":"customer.tier","equals":"gold"}]"#
        #expect(try passes(tier, metadata: #"{"customer":{"tier":"gold"}}"#))
        #expect(try passes(tier, metadata: #"{"customer.tier":"gold"}"#))  // a key written with a dot
        #expect(try passes(#"[{"key":"a.b.c","equals":"x"}]"#, metadata: #"{"a":{"b.c":"x"}}"#))
        #expect(try !passes(tier, metadata: #"{"customer":{"tier":"silver"}}"#))
        #expect(try !passes(tier, metadata: #"{"customer":{"tiers":"gold"}}"#))
        #expect(try !passes(tier, metadata: #"{"customerXtier":"gold"}"#))
        #expect(try passes(#"[{"key":"items.1.sku","equals":"B"}]"#, metadata: #"{"items":[{"sku":"A"},{"sku":"B"}]}"#))
        #expect(try !passes(#"[{"key":"items.2.sku","exists":true}]"#, metadata: #"{"items":[{"sku":"A"},{"sku":"B"}]}"#))
        // Scalars as written; null as "null"; escapes decoded; objects themselves have no value.
        #expect(try passes(#"[{"key":"n","equals":"12.50"}]"#, metadata: #"{"n":12.50}"#))
        #expect(try passes(#"[{"key":"ok","equals":"true"}]"#, metadata: #"{"ok":true}"#))
        #expect(try passes(#"[{"key":"z","equals":"null"}]"#, metadata: #"{"z":null}"#))
        #expect(try passes(#"[{"key":"q","equals":"a\"b"}]"#, metadata: #"{"q":"a\"b"}"#))
        #expect(try passes(#"[{"key":"customer","exists":false}]"#, metadata: #"{"customer":{"tier":"gold"}}"#))
        // The last of duplicate matches wins (in document order).
        #expect(try passes(tier, metadata: #"{"customer":{"tier":"silver"},"customer.tier":"gold"}"#))
        // Keys are compared as decoded: an escaped key matches its plain spelling, a non-ASCII
        // key its UTF-8, and the metadata's surrounding spaces do not matter.
        #expect(try passes(tier, metadata: #"{"cust\u006fmer":{"t\u0069er":"gold"}}"#))
        #expect(try passes(#"[{"key":"région.zone","equals":"eu"}]"#, metadata: #" {"région":{"zone":"eu"}}"# + "\t"))
        #expect(try !passes(#"[{"key":"région","equals":"eu"}]"#, metadata: #"{"region":"eu"}"#))
        // A key longer than the member's name, or a name longer than the key, is no match.
        #expect(try !passes(#"[{"key":"customer.tier.x","exists":true}]"#, metadata: #"{"customer":{"tier":"gold"}}"#))
        #expect(try !passes(#"[{"key":"cust","exists":true}]"#, metadata: #"{"customer":"x"}"#))
        // A mix of raw and key conditions reads both.
        #expect(try passes(#"[{"raw":{"prefix":"{\"cust"}},{"key":"customer","equals":"x"}]"#, metadata: #"{"customer":"x"}"#))
    }

    /// A thread keeps the metadata it parsed last for the next filter (a tenant split runs one
    /// per route on the same event): texts of the same length that differ, taken in turn, and a
    /// raw condition after key-only ones, must each be read afresh.
    @Test func theLastParsedMetadataIsReusedOnlyForTheSameText() throws {
        let plugin = try PluginLoader.load(name: "metadata-filter", searchPath: [pluginDir])
        let acme1 = try plugin.makeInstance(configJSON: Array(#"{"when":[{"key":"tenant","equals":"acme1"}]}"#.utf8))
        let acme2 = try plugin.makeInstance(configJSON: Array(#"{"when":[{"key":"tenant","equals":"acme2"}]}"#.utf8))
        let raw2 = try plugin.makeInstance(configJSON: Array(#"{"when":[{"raw":{"matches":"acme2"}},{"key":"tenant","exists":true}]}"#.utf8))
        func call(_ tenant: String) -> HandlerCall {
            let body = #"{"eventCode":"Payment","metadata":\#(JSONValue.quoted(#"{"tenant":"\#(tenant)"}"#))}"#
            return HandlerCall(body: Array(body.utf8), eventCode: "Payment", source: "evo", route: "r", msgID: "m", deliveryID: "d", attempt: 1)
        }
        for i in 0..<6 {
            let tenant = i % 2 == 0 ? "acme1" : "acme2"
            let c = call(tenant)
            #expect(acme1.handle(c) == (tenant == "acme1" ? .proceed(newBody: nil) : .drop))
            #expect(acme2.handle(c) == (tenant == "acme2" ? .proceed(newBody: nil) : .drop))
            #expect(raw2.handle(c) == (tenant == "acme2" ? .proceed(newBody: nil) : .drop))
        }
    }

    /// Raw conditions compare bytes when text and operand are ASCII, Strings otherwise: every
    /// answer must be the String comparison's (canonical equivalence, CR LF one Character).
    @Test func rawConditionsAnswerAsStringComparisons() throws {
        let texts = ["abc", "ab", "abcd", "", "K", "\u{212A}", "e\u{301}", "\u{E9}", "a\r\nb", "a\r", "a\n", "tenant=acme&x=1", "caf\u{E9}=1"]
        let operands = ["abc", "ab", "K", "\u{E9}", "e\u{301}", "a\r", "a\r\n", "a", "", "tenant=", "caf\u{E9}"]
        for text in texts {
            for v in operands {
                let q = JSONValue.quoted(v)
                #expect(try passes(#"[{"raw":{"equals":\#(q)}}]"#, metadata: text) == (text == v), "\(text.debugDescription) equals \(v.debugDescription)")
                #expect(try passes(#"[{"raw":{"notEquals":\#(q)}}]"#, metadata: text) == (text != v), "\(text.debugDescription) notEquals \(v.debugDescription)")
                #expect(try passes(#"[{"raw":{"prefix":\#(q)}}]"#, metadata: text) == text.hasPrefix(v), "\(text.debugDescription) prefix \(v.debugDescription)")
                #expect(try passes(#"[{"raw":{"in":[\#(q),"zz"]}}]"#, metadata: text) == (text == v), "\(text.debugDescription) in \(v.debugDescription)")
            }
        }
        // The two answers that bytes alone would get wrong.
        #expect(try passes(#"[{"raw":{"equals":"K"}}]"#, metadata: "\u{212A}"))
        #expect(try !passes(#"[{"raw":{"prefix":"a\r"}}]"#, metadata: "a\r\nb"))
        // Missing metadata: only exists:false holds.
        #expect(try !passes(#"[{"raw":{"equals":""}}]"#, metadata: nil))
        #expect(try passes(#"[{"raw":{"exists":false}}]"#, metadata: nil))
        #expect(try passes(#"[{"raw":{"notEquals":"x"}}]"#, metadata: nil))
    }

    @Test func pairsRawAndMissing() throws {
        let acme = #"[{"key":"tenant","equals":"acme"}]"#
        #expect(try passes(acme, metadata: "tenant=acme&region=eu"))
        #expect(try passes(acme, metadata: "region=eu; tenant = acme"))
        #expect(try passes(#"[{"key":"note","equals":"a b"}]"#, metadata: "note=a%20b"))
        #expect(try !passes(acme, metadata: "tenant acme"))
        #expect(try passes(#"[{"raw":{"prefix":"tenant acme"}}]"#, metadata: "tenant acme"))
        // Not JSON after all ("{" then no object): read as pairs, the brace part of the key.
        #expect(try !passes(acme, metadata: "{tenant=acme"))
        #expect(try passes(#"[{"key":"{tenant","equals":"acme"}]"#, metadata: "{tenant=acme"))
        #expect(try passes(#"[{"key":"tenant","exists":false}]"#, metadata: nil))
        #expect(try !passes(acme, metadata: nil))
    }
}
