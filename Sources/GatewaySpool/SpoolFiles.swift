import Foundation
import GatewayCore
import Glibc

/// A failed file operation in the spool.
public struct SpoolError: Error, Sendable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }

    static func errno(_ what: String) -> SpoolError {
        SpoolError("\(what): \(String(cString: strerror(Glibc.errno)))")
    }
}

/// The few file operations the spool needs, each retrying EINTR and reporting errno.
enum SpoolFiles {
    static func writeAll(_ fd: Int32, _ bytes: [UInt8]) throws(SpoolError) {
        var off = 0
        while off < bytes.count {
            let n = bytes.withUnsafeBytes { b -> Int in b.baseAddress.map { write(fd, $0 + off, b.count - off) } ?? 0 }
            if n > 0 {
                off += n
            } else if n < 0 && errno == EINTR {
                continue
            } else {
                throw SpoolError.errno("write")
            }
        }
    }

    static func sync(_ fd: Int32, data: Bool = true) throws(SpoolError) {
        while (data ? fdatasync(fd) : fsync(fd)) != 0 {
            if errno != EINTR { throw SpoolError.errno("fsync") }
        }
    }

    /// fsync of a directory: makes file creations, renames and deletions in it durable.
    static func syncDirectory(_ path: String) throws(SpoolError) {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw SpoolError.errno("open \(path)") }
        defer { close(fd) }
        try sync(fd, data: false)
    }

    /// Creates `path` (mode 0700) or tightens an existing one. Returns true when it was tightened.
    static func privateDirectory(_ path: String) throws(SpoolError) -> Bool {
        var st = stat()
        if stat(path, &st) != 0 {
            do {
                try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            } catch {
                throw SpoolError("cannot create \(path): \(error.localizedDescription)")
            }
            return false
        }
        guard st.st_mode & S_IFMT == S_IFDIR else { throw SpoolError("\(path) is not a directory") }
        if st.st_mode & 0o077 != 0 {
            guard chmod(path, 0o700) == 0 else { throw SpoolError.errno("chmod \(path)") }
            return true
        }
        return false
    }

    /// Maps a file read-only for `body` (nil when it cannot be opened or mapped). Reading a
    /// 64 MiB segment this way costs page cache, not a heap copy of it. Only for files nobody
    /// truncates meanwhile (a mapped page past the end is a SIGBUS): delivered segments, and
    /// `dedup.idx` on the thread that owns it.
    static func withMappedFile<R>(_ path: String, _ body: (UnsafeRawBufferPointer) -> R) -> R? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { return nil }
        let size = Int(st.st_size)
        if size == 0 { return body(UnsafeRawBufferPointer(start: nil, count: 0)) }
        guard let p = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), p != MAP_FAILED else { return nil }
        defer { munmap(p, size) }
        madvise(p, size, MADV_SEQUENTIAL)
        return body(UnsafeRawBufferPointer(start: p, count: size))
    }

    static func readFile(_ path: String) -> [UInt8]? {
        FileManager.default.contents(atPath: path).map(Array.init)
    }

    /// A small text file's content without surrounding white space (nil: missing, or not UTF-8).
    static func readText(_ path: String) -> String? {
        readFile(path).flatMap { UTF8Validation.string($0) }?.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Writes a file atomically and durably: temp file, fsync, rename, directory fsync.
    static func writeAtomically(_ path: String, _ bytes: [UInt8]) throws(SpoolError) {
        let tmp = path + ".tmp"
        let fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw SpoolError.errno("open \(tmp)") }
        do {
            try writeAll(fd, bytes)
            try sync(fd, data: false)
        } catch {
            close(fd)
            unlink(tmp)
            throw error
        }
        close(fd)
        guard rename(tmp, path) == 0 else { throw SpoolError.errno("rename \(tmp)") }
        try syncDirectory((path as NSString).deletingLastPathComponent)
    }
}
