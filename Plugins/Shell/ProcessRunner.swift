import CSystem
import Foundation
import Glibc

/// Runs one child process with posix_spawn: its own process group, clean signal state, stdin fed
/// from memory, stdout/stderr captured up to a bound, and a deadline after which the whole group
/// is killed. Every descriptor of the gateway is close-on-exec, so the child gets only 0, 1, 2.
enum ProcessRunner {
    enum Outcome: Equatable {
        case exited(Int32)
        case signaled(Int32)
        case timedOut
        case spawnFailed(String)
    }

    struct Result {
        var outcome: Outcome
        var stdout: [UInt8]
        var stderr: [UInt8]
    }

    static func run(
        program: String, arguments: [String], environment: [String], workingDirectory: String?, stdin: [UInt8],
        timeoutMs: Int, maxOutputBytes: Int, credentials: (uid: uid_t, gid: gid_t)? = nil
    ) -> Result {
        var inPipe: [Int32] = [-1, -1]
        var outPipe: [Int32] = [-1, -1]
        var errPipe: [Int32] = [-1, -1]
        guard gw_pipe_cloexec(&inPipe) == 0 else { return failed("pipe: \(errnoText())") }
        guard gw_pipe_cloexec(&outPipe) == 0 else {
            closeAll(inPipe)
            return failed("pipe: \(errnoText())")
        }
        guard gw_pipe_cloexec(&errPipe) == 0 else {
            closeAll(inPipe + outPipe)
            return failed("pipe: \(errnoText())")
        }

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, inPipe[0], 0)
        posix_spawn_file_actions_adddup2(&actions, outPipe[1], 1)
        posix_spawn_file_actions_adddup2(&actions, errPipe[1], 2)
        if let wd = workingDirectory { gw_spawn_addchdir(&actions, wd) }

        var attr = posix_spawnattr_t()
        posix_spawnattr_init(&attr)
        defer { posix_spawnattr_destroy(&attr) }
        // A new process group (so a timeout kills the script and its children), no blocked
        // signals (the gateway blocks SIGTERM/SIGINT/SIGHUP in its threads), default handlers
        // (the gateway ignores SIGPIPE).
        var empty = sigset_t()
        sigemptyset(&empty)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for s in [SIGPIPE, SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGCHLD] { sigaddset(&defaults, s) }
        posix_spawnattr_setsigmask(&attr, &empty)
        posix_spawnattr_setsigdefault(&attr, &defaults)
        posix_spawnattr_setpgroup(&attr, 0)
        posix_spawnattr_setflags(&attr, Int16(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))

        let argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        let envp: [UnsafeMutablePointer<CChar>?] = environment.map { strdup($0) } + [nil]
        defer {
            for p in argv { free(p) }
            for p in envp { free(p) }
        }
        var pid: pid_t = 0
        let rc: Int32
        if let credentials {
            // posix_spawn cannot change the user: a small fork/exec in C does (see CSystem.h).
            rc = gw_spawn_as(&pid, program, argv, envp, inPipe[0], outPipe[1], errPipe[1], workingDirectory, credentials.uid, credentials.gid)
        } else if program.contains("/") {
            rc = posix_spawn(&pid, program, &actions, &attr, argv, envp)
        } else {
            rc = posix_spawnp(&pid, program, &actions, &attr, argv, envp)
        }
        // The child has its copies; close ours of the child's ends.
        close(inPipe[0])
        close(outPipe[1])
        close(errPipe[1])
        guard rc == 0 else {
            close(inPipe[1])
            close(outPipe[0])
            close(errPipe[0])
            return failed(String(cString: strerror(rc)))
        }
        let deadline = monotonicMs() + UInt64(timeoutMs)
        // Opened before the child can be reaped (nobody else waits for it), so it is this child.
        let exitFD = gw_pidfd_open(pid)
        defer { if exitFD >= 0 { close(exitFD) } }
        let io = pump(stdinFD: inPipe[1], stdin: stdin, stdoutFD: outPipe[0], stderrFD: errPipe[0], deadline: deadline, max: maxOutputBytes)
        let outcome = reap(pid: pid, exitFD: exitFD, deadline: io.timedOut ? 0 : deadline)
        return Result(outcome: outcome, stdout: io.stdout, stderr: io.stderr)
    }

    /// Feeds stdin and drains stdout/stderr together (so a chatty child never blocks on a full
    /// pipe while we block writing its stdin), until both outputs close or the deadline passes.
    static func pump(stdinFD: Int32, stdin: [UInt8], stdoutFD: Int32, stderrFD: Int32, deadline: UInt64, max: Int)
        -> (stdout: [UInt8], stderr: [UInt8], timedOut: Bool)
    {
        var inFD = stdinFD
        var written = 0
        var outs: [Int32: [UInt8]] = [stdoutFD: [], stderrFD: []]
        var open: Set<Int32> = [stdoutFD, stderrFD]
        _ = fcntl(stdinFD, F_SETFL, fcntl(stdinFD, F_GETFL) | O_NONBLOCK)
        if stdin.isEmpty {
            close(inFD)
            inFD = -1
        }
        var buf = [UInt8](repeating: 0, count: 16 << 10)
        var timedOut = false
        while !open.isEmpty {
            let now = monotonicMs()
            if now >= deadline {
                timedOut = true
                break
            }
            var fds = open.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
            if inFD >= 0 { fds.append(pollfd(fd: inFD, events: Int16(POLLOUT), revents: 0)) }
            let r = poll(&fds, nfds_t(fds.count), Int32(min(deadline - now, 1000)))
            if r < 0 && errno != EINTR { break }
            for p in fds where p.revents != 0 {
                if p.fd == inFD {
                    let n = stdin.withUnsafeBytes { b -> Int in b.baseAddress.map { write(inFD, $0 + written, b.count - written) } ?? 0 }
                    if n > 0 { written += n }
                    if n < 0 && errno != EAGAIN && errno != EINTR || written >= stdin.count || p.revents & Int16(POLLERR | POLLHUP) != 0 {
                        close(inFD)  // done, or the child stopped reading (EPIPE): no more input
                        inFD = -1
                    }
                } else {
                    let n = read(p.fd, &buf, buf.count)
                    if n > 0 {
                        let keep = Swift.max(0, Swift.min(n, max - (outs[p.fd]?.count ?? 0)))
                        if keep > 0 { outs[p.fd]?.append(contentsOf: buf[0..<keep]) }
                    } else if n == 0 || (errno != EINTR && errno != EAGAIN) {
                        open.remove(p.fd)
                        close(p.fd)
                    }
                }
            }
        }
        if inFD >= 0 { close(inFD) }
        for fd in open { close(fd) }
        return (outs[stdoutFD] ?? [], outs[stderrFD] ?? [], timedOut)
    }

    /// Waits for the child until the deadline, then kills its whole process group. With a pidfd
    /// (`exitFD`) the wait wakes the moment the child exits; without one (kernels before 5.3)
    /// waitpid is polled every millisecond, which costs up to a millisecond per process: a
    /// child usually exits just after closing its output, while we already wait here.
    static func reap(pid: pid_t, exitFD: Int32, deadline: UInt64) -> Outcome {
        var status: Int32 = 0
        while true {
            let r = waitpid(pid, &status, WNOHANG)
            if r == pid { return decode(status) }
            if r < 0 && errno != EINTR { return .spawnFailed("waitpid: \(errnoText())") }
            let now = monotonicMs()
            if now >= deadline {
                kill(-pid, SIGKILL)
                while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
                return .timedOut
            }
            if exitFD >= 0 {
                var p = pollfd(fd: exitFD, events: Int16(POLLIN), revents: 0)
                _ = poll(&p, 1, Int32(min(deadline - now, 1000)))
            } else {
                usleep(1000)
            }
        }
    }

    static func decode(_ status: Int32) -> Outcome {
        let sig = status & 0x7F
        if sig == 0 { return .exited((status >> 8) & 0xFF) }
        return .signaled(sig)
    }

    static func monotonicMs() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) * 1000 + UInt64(ts.tv_nsec) / 1_000_000
    }

    static func errnoText() -> String { String(cString: strerror(errno)) }

    static func closeAll(_ fds: [Int32]) { for fd in fds where fd >= 0 { close(fd) } }

    static func failed(_ reason: String) -> Result { Result(outcome: .spawnFailed(reason), stdout: [], stderr: []) }
}
